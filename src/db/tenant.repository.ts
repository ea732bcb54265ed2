import type { Tenant } from '../domain/tenant.js'
import type { Tx } from './database.js'

interface TenantRow {
  id: string
  slug: string
  name: string
  created_at: Date
}

const toTenant = (row: TenantRow): Tenant => ({ id: row.id, slug: row.slug, name: row.name, createdAt: row.created_at })

export class TenantRepository {
  async insert(tx: Tx, input: { slug: string; name: string }): Promise<Tenant> {
    const [row] = await tx<TenantRow[]>`INSERT INTO tenants (slug, name) VALUES (${input.slug}, ${input.name}) RETURNING *`
    return toTenant(row as TenantRow)
  }

  async findBySlug(tx: Tx, slug: string): Promise<Tenant | null> {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE slug = ${slug}`
    return row ? toTenant(row) : null
  }

  async findById(tx: Tx, id: string): Promise<Tenant | null> {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE id = ${id}`
    return row ? toTenant(row) : null
  }

  /** Every tenant's id and slug: the data plane knows tenants that serve no route yet. */
  async allSlugs(tx: Tx): Promise<Array<{ id: string; slug: string }>> {
    return tx<Array<{ id: string; slug: string }>>`SELECT id, slug FROM tenants`
  }
}
