import type { Database, Tx } from '../db/database.js'
import type { DocumentRepository } from '../db/document.repository.js'
import type { EventRepository } from '../db/event.repository.js'
import { COLLECTION_NAME, documentIssue, jsonBytes, type StoredDocument } from '../domain/document.js'
import { documentQuerySchema, encodeDocumentCursor, type DocumentQuery } from '../domain/document-query.js'
import { mergePatch } from '../domain/merge-patch.js'
import { AppError } from '../errors.js'

export type { StoredDocument } from '../domain/document.js'

/** The run that writes (as for `ctx.events.publish`): its event depth and execution. */
export type WriteCause = { depth: number | null; executionId: string } | undefined

export interface DocumentPage {
  documents: StoredDocument[]
  /** Pass it back as `cursor` for the next page; null on the last page. */
  cursor: string | null
}

export interface DocumentStoreOptions {
  db: Database
  documents: DocumentRepository
  events: EventRepository
  /** Largest document, as JSON text in UTF-8 bytes. */
  maxDocumentBytes?: number
  /** Largest page of query results, as the sum of its documents' JSON bytes. */
  maxResultBytes?: number
  /** Largest `limit` a query may ask for. */
  maxLimit?: number
  /** `limit` when a query names none. */
  defaultLimit?: number
  /** Called after a commit whose data-change event was delivered to a script (wakes this process's dispatcher). */
  onPublished?: () => void
  /** Bytes of documents a tenant may store (its quota); undefined: no cap. */
  maxTenantBytes?: (tenantId: string) => number | undefined
}

export const DOCUMENT_STORE_DEFAULTS = {
  maxDocumentBytes: 256 * 1024,
  maxResultBytes: 4 * 1024 * 1024,
  maxLimit: 1000,
  defaultLimit: 100,
} as const

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * A tenant's JSON document store (the host side of `ctx.db`). The tenant is always the first
 * argument, bound by the host from the run, never taken from the script; every call is one
 * `db.tenant` transaction, so row-level security applies as well as the explicit tenant filter.
 *
 * Every write publishes `db.{collection}.created|updated|deleted` with payload
 * `{ collection, id, record, previous }` (the documents' data; `record` null on delete,
 * `previous` null on insert) into the event outbox in the same transaction: the write and its
 * event commit or roll back together. With a cause the event is one level deeper than the run
 * that wrote, so an event script writing to the collection it listens on stops at the depth limit.
 *
 * @example
 * const store = new DocumentStore({ db, documents: new DocumentRepository(), events: new EventRepository() })
 * const id = await store.insert(tenantId, 'orders', { customer: 'c1', total: 120 })
 * const page = await store.query(tenantId, 'orders', { where: { total: { $gte: 100 } }, orderBy: '-total' })
 * await store.update(tenantId, 'orders', id, { status: 'paid', note: null })
 */
export class DocumentStore {
  readonly #db: Database
  readonly #documents: DocumentRepository
  readonly #events: EventRepository
  readonly #maxDocumentBytes: number
  readonly #maxResultBytes: number
  readonly #onPublished: () => void
  readonly #maxTenantBytes: (tenantId: string) => number | undefined
  readonly #querySchema: ReturnType<typeof documentQuerySchema>

  constructor(options: DocumentStoreOptions) {
    const settings = { ...DOCUMENT_STORE_DEFAULTS, ...definedOnly(options) }
    for (const field of ['maxDocumentBytes', 'maxResultBytes', 'maxLimit', 'defaultLimit'] as const) {
      const value = settings[field]
      if (typeof value !== 'number') throw new TypeError(`options.${field} must be a positive integer`)
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${field} must be a positive integer`)
    }
    // A page always has room for one document, so paging by bytes always moves on.
    if (settings.maxDocumentBytes > settings.maxResultBytes) throw new RangeError('options.maxDocumentBytes must not be larger than options.maxResultBytes')
    if (settings.defaultLimit > settings.maxLimit) throw new RangeError('options.defaultLimit must not be larger than options.maxLimit')
    this.#db = options.db
    this.#documents = options.documents
    this.#events = options.events
    this.#maxDocumentBytes = settings.maxDocumentBytes
    this.#maxResultBytes = settings.maxResultBytes
    this.#onPublished = options.onPublished ?? (() => {})
    if (options.maxTenantBytes !== undefined && typeof options.maxTenantBytes !== 'function') throw new TypeError('options.maxTenantBytes must be a function')
    this.#maxTenantBytes = options.maxTenantBytes ?? (() => undefined)
    this.#querySchema = documentQuerySchema({ defaultLimit: settings.defaultLimit, maxLimit: settings.maxLimit })
  }

  /** Stores `doc` (a JSON object) and answers its new id. */
  async insert(tenantId: string, collection: string, doc: unknown, cause?: WriteCause): Promise<string> {
    checkCollection(collection)
    const data = this.#checkDocument(doc)
    const bytes = jsonBytes(data)
    const { result, delivered } = await this.#write(tenantId, collection, 'created', cause, async (tx) => {
      const stored = await this.#documents.insert(tx, tenantId, collection, data, bytes)
      return { result: stored.id, id: stored.id, record: stored.data, previous: null }
    })
    if (delivered) this.#onPublished()
    return result!
  }

  /** The document, or null when this tenant's collection has none with this id. */
  async get(tenantId: string, collection: string, id: string): Promise<StoredDocument | null> {
    checkCollection(collection)
    if (!isId(id)) return null
    return this.#db.tenant(tenantId, (tx) => this.#documents.find(tx, tenantId, collection, id))
  }

  /**
   * One page of the collection's documents matching `where`, in `orderBy` order (default:
   * oldest first), at most `limit` documents and at most `maxResultBytes` of them: a page cut
   * short by bytes has a cursor like a full one.
   */
  async query(tenantId: string, collection: string, options: unknown = {}): Promise<DocumentPage> {
    checkCollection(collection)
    const query = this.#parseQuery(options ?? {})
    const rows = await this.#db.tenant(tenantId, (tx) => this.#documents.page(tx, tenantId, collection, query, this.#maxResultBytes))
    const documents: StoredDocument[] = []
    for (const row of rows) {
      if (row.document === null) break
      documents.push(row.document)
    }
    if (documents.length === 0 && rows.length > 0) {
      // Only a document stored under a larger maxDocumentBytes than today's maxResultBytes.
      throw new AppError('DB_RESULT_TOO_LARGE', `the next document is ${rows[0]!.bytes} bytes, over the ${this.#maxResultBytes}-byte result limit`, { bytes: rows[0]!.bytes, limit: this.#maxResultBytes })
    }
    const more = rows.length > documents.length
    const last = rows[documents.length - 1]
    return { documents, cursor: more && last !== undefined ? encodeDocumentCursor(query.orderBy, last.cursor) : null }
  }

  /**
   * Applies `patch` as a JSON merge patch (RFC 7386: null removes a key, objects merge) and
   * answers the new document, or null when there is no such document.
   */
  async update(tenantId: string, collection: string, id: string, patch: unknown, cause?: WriteCause): Promise<StoredDocument | null> {
    checkCollection(collection)
    const issue = documentIssue(patch)
    if (issue !== null) throw new AppError('DB_DOCUMENT_INVALID', `patch: ${issue}`)
    if (!isId(id)) return null
    const { result, delivered } = await this.#write(tenantId, collection, 'updated', cause, async (tx) => {
      const previous = await this.#documents.find(tx, tenantId, collection, id, true)
      if (previous === null) return null
      const data = mergePatch(previous.data, patch) as Record<string, unknown>
      const bytes = jsonBytes(data)
      if (bytes > this.#maxDocumentBytes) throw tooLarge(bytes, this.#maxDocumentBytes)
      const stored = await this.#documents.replace(tx, tenantId, collection, id, data, bytes)
      return { result: stored, id, record: stored.data, previous: previous.data }
    })
    if (delivered) this.#onPublished()
    return result
  }

  /** Deletes the document; false when there was none. */
  async delete(tenantId: string, collection: string, id: string, cause?: WriteCause): Promise<boolean> {
    checkCollection(collection)
    if (!isId(id)) return false
    const { result, delivered } = await this.#write(tenantId, collection, 'deleted', cause, async (tx) => {
      const previous = await this.#documents.remove(tx, tenantId, collection, id)
      if (previous === null) return null
      return { result: true, id, record: null, previous: previous.data }
    })
    if (delivered) this.#onPublished()
    return result ?? false
  }

  /**
   * Runs one write and publishes its data-change event in the same transaction. `change`
   * answers null when there was nothing to change (no event then).
   */
  async #write<T>(
    tenantId: string,
    collection: string,
    kind: 'created' | 'updated' | 'deleted',
    cause: WriteCause,
    change: (tx: Tx) => Promise<{ result: T; id: string; record: unknown; previous: unknown } | null>,
  ): Promise<{ result: T | null; delivered: boolean }> {
    checkCause(cause)
    const cap = kind === 'deleted' ? undefined : this.#maxTenantBytes(tenantId)
    return this.#db.tenant(tenantId, async (tx) => {
      const before = cap === undefined ? 0 : await usedBytes(tx, tenantId)
      const changed = await change(tx)
      if (changed === null) return { result: null, delivered: false }
      if (cap !== undefined) {
        // Read after the write: the usage trigger's row lock orders this tenant's writers, so this is exact.
        const after = await usedBytes(tx, tenantId)
        if (after > cap && after > before) {
          throw new AppError('DB_QUOTA_EXCEEDED', `the write would make the tenant's documents ${after} bytes; its quota is ${cap}`, { bytes: after, cap })
        }
      }
      const event = await this.#events.publish(tx, {
        tenantId,
        type: `db.${collection}.${kind}`,
        payload: { collection, id: changed.id, record: changed.record, previous: changed.previous },
        idempotencyKey: null,
        depth: cause ? (cause.depth ?? -1) + 1 : 0,
        source: cause ? 'script' : 'system',
        causeExecutionId: cause?.executionId ?? null,
      })
      return { result: changed.result, delivered: event.deliveries > 0 }
    })
  }

  #checkDocument(doc: unknown): Record<string, unknown> {
    const issue = documentIssue(doc)
    if (issue !== null) throw new AppError('DB_DOCUMENT_INVALID', issue)
    const bytes = jsonBytes(doc)
    if (bytes > this.#maxDocumentBytes) throw tooLarge(bytes, this.#maxDocumentBytes)
    return doc as Record<string, unknown>
  }

  #parseQuery(options: unknown): DocumentQuery {
    const parsed = this.#querySchema.safeParse(options)
    if (parsed.success) return parsed.data
    const fields = parsed.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(options)', message: issue.message }))
    throw new AppError('DB_QUERY_INVALID', `${fields[0]!.field}: ${fields[0]!.message}`, { fields })
  }
}

function checkCollection(collection: unknown): void {
  if (typeof collection !== 'string' || !COLLECTION_NAME.test(collection)) {
    throw new AppError('DB_COLLECTION_INVALID', `collection ${JSON.stringify(collection) ?? String(collection)}: a letter, then up to 63 letters, digits, _ or -`)
  }
}

/** The cause comes from the host, not the script: a bad one is a programming error. */
function checkCause(cause: WriteCause): void {
  if (cause === undefined) return
  if (!isId(cause.executionId)) throw new TypeError('cause.executionId must be a uuid')
  if (cause.depth !== null && (!Number.isInteger(cause.depth) || cause.depth < 0)) throw new RangeError('cause.depth must be null or a non-negative integer')
}

function isId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id)
}

/** Bytes of the tenant's documents (kept by a trigger on documents, migration 130). */
async function usedBytes(tx: Tx, tenantId: string): Promise<number> {
  const [row] = await tx<Array<{ db_bytes: string }>>`SELECT db_bytes FROM tenant_usage WHERE tenant_id = ${tenantId}`
  return row === undefined ? 0 : Number(row.db_bytes)
}

function tooLarge(bytes: number, limit: number): AppError {
  return new AppError('DB_DOCUMENT_TOO_LARGE', `the document is ${bytes} bytes, over the ${limit}-byte limit`, { bytes, limit })
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>
}
