import { AppError, type ErrorCode } from '../errors.js'

/** Unique constraints whose violation is a conflict the caller can fix, by constraint name. */
const CONFLICTS: Record<string, ErrorCode> = {
  tenants_slug_key: 'TENANT_EXISTS',
  scripts_tenant_id_name_key: 'SCRIPT_NAME_TAKEN',
  http_routes_pkey: 'ROUTE_TAKEN',
  http_routes_shape: 'ROUTE_TAKEN',
}

/** Turns a unique violation into its 409; anything else is rethrown as it is. */
export function conflictOrRethrow(error: unknown): never {
  const pg = error as { code?: string; constraint_name?: string; detail?: string }
  if (pg.code === '23505' && pg.constraint_name !== undefined) {
    const code = CONFLICTS[pg.constraint_name]
    if (code !== undefined) throw new AppError(code, undefined, pg.detail === undefined ? undefined : { constraint: pg.constraint_name }, { cause: error })
  }
  throw error
}
