/** Roles and what each may do (DESIGN.md, "Control plane REST"). */
export const ROLES = ['superadmin', 'admin', 'developer', 'viewer'] as const
export type Role = (typeof ROLES)[number]

/** `code.execute`: run code that is not a deployed script (POST /execute); admins only, audited. */
export const PERMISSIONS = ['scripts.read', 'scripts.create', 'scripts.update', 'scripts.delete', 'scripts.execute', 'code.execute'] as const
export type Permission = (typeof PERMISSIONS)[number]

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  superadmin: new Set(PERMISSIONS),
  admin: new Set(PERMISSIONS),
  developer: new Set(['scripts.read', 'scripts.create', 'scripts.update', 'scripts.execute']),
  viewer: new Set(['scripts.read']),
}

/** Who is calling: an API key, its role, and its tenant (null for a superadmin). */
export interface Principal {
  keyId: string | null
  role: Role
  tenantId: string | null
}

export function can(principal: Principal, permission: Permission): boolean {
  return GRANTS[principal.role].has(permission)
}

/** isogate itself, for what it does at boot (the demo tenant): a superadmin with no key. */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({ keyId: null, role: 'superadmin', tenantId: null })
