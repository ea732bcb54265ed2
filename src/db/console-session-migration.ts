import type { Migration } from './migrations.js'

/**
 * Migration 160: web console sessions. A session is a row, not process memory, so any node on
 * the database serves any request of it and sign-out or a revoked key ends it everywhere. The
 * cookie's value is stored only as its SHA-256; the row names the API key it acts as (deleted
 * with it) and the tenant a superadmin picked.
 */
export const CONSOLE_SESSION_MIGRATION: Migration = {
  version: 160,
  name: 'console_sessions: web console sign-in sessions',
  sql: `
    CREATE TABLE console_sessions (
      id_hash text PRIMARY KEY,
      key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
      tenant_slug text,
      csrf_token text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);
    CREATE INDEX console_sessions_key ON console_sessions (key_id);
    -- Only the system role reads or writes sessions: a session is looked up before any tenant is known.
    ALTER TABLE console_sessions ENABLE ROW LEVEL SECURITY;
    ALTER TABLE console_sessions FORCE ROW LEVEL SECURITY;
    CREATE POLICY console_sessions_system_access ON console_sessions TO isogate_system USING (true) WITH CHECK (true);
    GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO isogate_system;
  `,
}
