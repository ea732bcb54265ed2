import type { Tx } from './database.js'

/** Script ids and names of a tenant, for what is asked by name (`?script=`, the live tail). */
export class ScriptNameRepository {
  async idOf(tx: Tx, tenantId: string, name: string): Promise<string | null> {
    const [row] = await tx<Array<{ id: string }>>`SELECT id FROM scripts WHERE tenant_id = ${tenantId} AND name = ${name}`
    return row?.id ?? null
  }

  async names(tx: Tx, tenantId: string): Promise<Map<string, string>> {
    const rows = await tx<Array<{ id: string; name: string }>>`SELECT id, name FROM scripts WHERE tenant_id = ${tenantId}`
    return new Map(rows.map((row) => [row.id, row.name]))
  }
}
