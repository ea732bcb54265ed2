import type { StoredDocument } from '../domain/document.js'
import type { DocumentCursor, DocumentQuery } from '../domain/document-query.js'
import type { Tx } from './database.js'
import { afterSql, orderKey, orderSql, whereSql } from './document-sql.js'

interface DocumentRow {
  id: string
  data: Record<string, unknown>
  created_at: string
  updated_at: string
}

/**
 * One row of a page. `document` is null for a row past the page: the one that would take it over
 * its byte budget, or the `limit + 1`st, which only says that a next page exists.
 */
export interface PageRow {
  document: StoredDocument | null
  bytes: number
  cursor: DocumentCursor
}

const ISO_US = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'

function toDocument(row: DocumentRow): StoredDocument {
  return { id: row.id, data: row.data, createdAt: row.created_at, updatedAt: row.updated_at }
}

/**
 * Documents of the tenant document store. Every query names the tenant as well as running under
 * its row-level security (the caller's `db.tenant` transaction). Ids are checked to be uuids by
 * the caller: a malformed id would be a Postgres error here.
 */
export class DocumentRepository {
  async insert(tx: Tx, tenantId: string, collection: string, data: Record<string, unknown>, bytes: number): Promise<StoredDocument> {
    const [row] = await tx<DocumentRow[]>`
      INSERT INTO documents (tenant_id, collection, data, bytes, created_at, updated_at)
      -- One clock reading for both: two column defaults read clock_timestamp() apart, and a new
      -- document's updatedAt came out a microsecond after its createdAt.
      SELECT ${tenantId}, ${collection}, ${JSON.stringify(data)}::text::jsonb, ${bytes}, at, at FROM (SELECT clock_timestamp() AS at) AS now
      RETURNING id, data, to_char(created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at, to_char(updated_at AT TIME ZONE 'UTC', ${ISO_US}) AS updated_at`
    return toDocument(row!)
  }

  async find(tx: Tx, tenantId: string, collection: string, id: string, forUpdate = false): Promise<StoredDocument | null> {
    const [row] = await tx<DocumentRow[]>`
      SELECT id, data, to_char(created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at, to_char(updated_at AT TIME ZONE 'UTC', ${ISO_US}) AS updated_at
      FROM documents WHERE tenant_id = ${tenantId} AND collection = ${collection} AND id = ${id}
      ${forUpdate ? tx`FOR UPDATE` : tx``}`
    return row ? toDocument(row) : null
  }

  async replace(tx: Tx, tenantId: string, collection: string, id: string, data: Record<string, unknown>, bytes: number): Promise<StoredDocument> {
    const [row] = await tx<DocumentRow[]>`
      UPDATE documents SET data = ${JSON.stringify(data)}::text::jsonb, bytes = ${bytes}, updated_at = clock_timestamp()
      WHERE tenant_id = ${tenantId} AND collection = ${collection} AND id = ${id}
      RETURNING id, data, to_char(created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at, to_char(updated_at AT TIME ZONE 'UTC', ${ISO_US}) AS updated_at`
    return toDocument(row!)
  }

  /** The deleted document, or null when there was none. */
  async remove(tx: Tx, tenantId: string, collection: string, id: string): Promise<StoredDocument | null> {
    const [row] = await tx<DocumentRow[]>`
      DELETE FROM documents WHERE tenant_id = ${tenantId} AND collection = ${collection} AND id = ${id}
      RETURNING id, data, to_char(created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at, to_char(updated_at AT TIME ZONE 'UTC', ${ISO_US}) AS updated_at`
    return row ? toDocument(row) : null
  }

  /**
   * Up to `limit + 1` rows in the query's order (the extra one only says a next page exists), cut
   * at `maxBytes`: a running sum of the stored sizes finds where the page ends, and Postgres sends
   * the data of no row past it (the first row past the page comes back without its data).
   * The window has the query's own order, so it runs over the rows the LIMIT reads, not the table.
   */
  async page(tx: Tx, tenantId: string, collection: string, query: DocumentQuery, maxBytes: number): Promise<PageRow[]> {
    const order = orderSql(tx, query.orderBy)
    // Concatenated, not passed as an array: postgres.js reads an empty array as a parameter.
    const keys = query.orderBy.reduce((sql, key, i) => tx`${sql}, ${orderKey(tx, key)}::text AS ${tx(`k${i}`)}`, tx``)
    const keyColumns = query.orderBy.reduce((sql, _, i) => tx`${sql}, ${tx(`k${i}`)}`, tx``)
    const rows = await tx<Array<DocumentRow & { data: Record<string, unknown> | null; bytes: number } & Record<string, string>>>`
      SELECT id, CASE WHEN running <= ${maxBytes} AND position <= ${query.limit} THEN data END AS data, bytes, created_at, updated_at
        ${keyColumns}
      FROM (
        SELECT id, data, bytes,
          to_char(created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at,
          to_char(updated_at AT TIME ZONE 'UTC', ${ISO_US}) AS updated_at
          ${keys},
          sum(bytes) OVER w AS running,
          row_number() OVER w AS position
        FROM documents
        WHERE tenant_id = ${tenantId} AND collection = ${collection}
          AND ${whereSql(tx, query.where)}
          AND ${afterSql(tx, query.orderBy, query.after)}
        WINDOW w AS (ORDER BY ${order} ROWS UNBOUNDED PRECEDING)
        ORDER BY ${order}
        LIMIT ${query.limit + 1}
      ) page
      WHERE running - bytes < ${maxBytes}
      ORDER BY position`
    return rows.map((row) => ({
      document: row.data === null ? null : toDocument(row as DocumentRow),
      bytes: row.bytes,
      cursor: { keys: query.orderBy.map((_, i) => row[`k${i}`]!), at: row.created_at, id: row.id },
    }))
  }
}
