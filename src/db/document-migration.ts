import type { Migration } from './migrations.js'
import { tenantOwned } from './row-security.js'

/**
 * Migration 6: the tenant document store behind `ctx.db`. One table for every collection of
 * every tenant; a document is a JSON object. Data-change events are published by the store in
 * the writing transaction (src/services/document-store.ts), not by a trigger here: only the store
 * knows the run that wrote, whose causal depth the event must carry.
 */
export const DOCUMENTS_MIGRATION: Migration = {
  version: 6,
  name: 'documents: per-tenant JSON document store',
  sql: `
    CREATE TABLE documents (
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      collection text NOT NULL CHECK (collection ~ '^[a-zA-Z][a-zA-Z0-9_-]{0,63}$'),
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
      -- Bytes of the document as JSON text, measured by the store: a page of results is cut at
      -- its byte budget without reading or serialising the documents past it.
      bytes integer NOT NULL CHECK (bytes >= 0),
      -- clock_timestamp, not now(): the default order (created_at, id) follows the order of the
      -- writes as closely as the clock allows, even inside one long transaction.
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (tenant_id, collection, id)
    );
    -- The default order of a query and its keyset pages.
    CREATE INDEX documents_collection_created ON documents (tenant_id, collection, created_at, id);
    ${tenantOwned('documents')}
    GRANT SELECT, INSERT, UPDATE, DELETE ON documents TO isogate_app, isogate_system;
  `,
}
