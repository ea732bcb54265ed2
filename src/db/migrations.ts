import { CONSOLE_SESSION_MIGRATION } from './console-session-migration.js'
import type { Sql } from './database.js'
import { DOCUMENTS_MIGRATION } from './document-migration.js'
import { tenantOwned } from './row-security.js'
import { ROUTE_SHAPE_MIGRATION } from './route-shape-migration.js'
import { CRON_MIGRATION, EVENTS_MIGRATION } from './trigger-migrations.js'
import { EVENT_SOURCE_MIGRATION } from './event-source-migration.js'
import { HEALTH_MIGRATION } from './health-migration.js'
import { ROLLUP_MIGRATION } from './rollup-migration.js'
import { SOURCE_MAP_MIGRATION } from './source-map-migration.js'
import { TENANT_OPERATIONS_MIGRATION } from './tenant-operations-migration.js'

export interface Migration {
  version: number
  name: string
  sql: string
}

/**
 * Versioned migrations, in version order, applied in order at start under an advisory lock. Never edit one that
 * has shipped: add the next.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, keys, scripts, versions, routes; roles and row-level security',
    sql: `
      -- Roles are cluster-wide: another database on the same server may have made them.
      DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'isogate_app') THEN CREATE ROLE isogate_app NOLOGIN; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'isogate_system') THEN CREATE ROLE isogate_system NOLOGIN; END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$;
      GRANT isogate_app TO CURRENT_USER;
      GRANT isogate_system TO CURRENT_USER;
      GRANT USAGE ON SCHEMA public TO isogate_app, isogate_system;

      CREATE FUNCTION isogate_current_tenant() RETURNS uuid LANGUAGE sql STABLE
        AS $$ SELECT nullif(current_setting('isogate.tenant_id', true), '')::uuid $$;

      CREATE TABLE tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      ${tenantOwned('tenants', 'id')}

      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('superadmin', 'admin', 'developer', 'viewer')),
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CHECK ((role = 'superadmin') = (tenant_id IS NULL))
      );
      CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
      ${tenantOwned('api_keys')}

      CREATE TABLE scripts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name text NOT NULL,
        type text NOT NULL CHECK (type IN ('http', 'scheduled', 'event', 'oneoff', 'embedded')),
        status text NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'disabled', 'archived')),
        version integer NOT NULL,
        http_path text,
        http_methods text[],
        cron_expression text,
        cron_timezone text,
        event_types text[],
        limits jsonb NOT NULL DEFAULT '{}',
        env jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, name)
      );
      CREATE INDEX scripts_tenant_status ON scripts (tenant_id, status);
      CREATE INDEX scripts_tenant_type_status ON scripts (tenant_id, type, status);
      ${tenantOwned('scripts')}

      CREATE TABLE script_versions (
        script_id uuid NOT NULL REFERENCES scripts (id) ON DELETE CASCADE,
        version integer NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        source text NOT NULL,
        source_hash text NOT NULL,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (script_id, version)
      );
      CREATE INDEX script_versions_tenant ON script_versions (tenant_id);
      ${tenantOwned('script_versions')}

      -- One row per (method, path) an active http script serves: the database itself keeps
      -- two active scripts of a tenant off the same route.
      CREATE TABLE http_routes (
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        method text NOT NULL,
        path text NOT NULL,
        script_id uuid NOT NULL REFERENCES scripts (id) ON DELETE CASCADE,
        PRIMARY KEY (tenant_id, method, path)
      );
      CREATE INDEX http_routes_script ON http_routes (script_id);
      ${tenantOwned('http_routes')}

      GRANT SELECT ON tenants TO isogate_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys, scripts, script_versions, http_routes TO isogate_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, api_keys, scripts, script_versions, http_routes TO isogate_system;
    `,
  },
  {
    version: 2,
    name: 'executions',
    sql: `
      -- Every run of every trigger. Written off the hot path in batches for http runs.
      -- Purged by created_at in batches (retention, default 90 days).
      CREATE TABLE executions (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        script_id uuid NOT NULL,
        script_version integer NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('http', 'cron', 'event', 'manual')),
        status text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'skipped')),
        input jsonb,
        output jsonb,
        logs jsonb NOT NULL DEFAULT '[]',
        error jsonb,
        http_status integer,
        duration_ms double precision,
        cpu_ms double precision,
        memory_bytes bigint,
        api_calls integer,
        output_bytes integer,
        start_kind text,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      );
      CREATE INDEX executions_tenant_created ON executions (tenant_id, created_at DESC, id DESC);
      CREATE INDEX executions_tenant_script_created ON executions (tenant_id, script_id, created_at DESC, id DESC);
      CREATE INDEX executions_created ON executions (created_at);
      ${tenantOwned('executions')}
      GRANT SELECT, INSERT, UPDATE ON executions TO isogate_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON executions TO isogate_system;
    `,
  },
  {
    version: 3,
    name: 'append-only audit log; script list index; execution filters',
    sql: `
      -- Who changed what, when. Append-only: neither role has UPDATE or DELETE on it, and a
      -- trigger refuses them (and TRUNCATE) even for the owner, so a compromised app role cannot
      -- rewrite history. No foreign key to tenants: the trail outlives what it describes.
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        actor_key_id uuid,
        actor_role text NOT NULL,
        action text NOT NULL,
        resource_type text NOT NULL,
        resource_id text NOT NULL,
        before jsonb,
        after jsonb,
        -- clock_timestamp, not now(): several entries of one transaction keep their order.
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX audit_log_tenant_created ON audit_log (tenant_id, created_at DESC, id DESC);
      ${tenantOwned('audit_log')}
      CREATE FUNCTION isogate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$;
      CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION isogate_audit_append_only();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION isogate_audit_append_only();
      GRANT SELECT, INSERT ON audit_log TO isogate_app, isogate_system;

      -- Script lists: newest first, keyset on (created_at, id), per tenant.
      CREATE INDEX scripts_tenant_created ON scripts (tenant_id, created_at DESC, id DESC);
      -- Execution lists filtered by status (failed runs of a tenant) keep the keyset order.
      CREATE INDEX executions_tenant_status_created ON executions (tenant_id, status, created_at DESC, id DESC);
    `,
  },
  CRON_MIGRATION,
  EVENTS_MIGRATION,
  DOCUMENTS_MIGRATION,
  {
    version: 7,
    name: 'script secrets: sealed values (AES-256-GCM), never returned',
    sql: `
      ALTER TABLE scripts ADD COLUMN secrets jsonb NOT NULL DEFAULT '{}';
      -- A data-plane request may have to name a secret (bearer or x-runtime-secret) to run the script.
      ALTER TABLE scripts ADD COLUMN http_auth_secret text;
    `,
  },
  {
    version: 8,
    name: 'executions: no per-row foreign-key check; a tenant delete still removes its records',
    sql: `
      -- Every run inserts a record: the foreign key's check (a lookup of the tenant row per
      -- inserted record) was about a third of an insert's cost on the embedded database. Tenants
      -- are never deleted by isogate itself; an operator's DELETE still takes the tenant's
      -- records with it, through this trigger instead of the cascade.
      ALTER TABLE executions DROP CONSTRAINT executions_tenant_id_fkey;
      CREATE FUNCTION isogate_delete_tenant_executions() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM executions WHERE tenant_id = OLD.id;
        RETURN OLD;
      END $$;
      CREATE TRIGGER tenants_delete_executions AFTER DELETE ON tenants
        FOR EACH ROW EXECUTE FUNCTION isogate_delete_tenant_executions();
    `,
  },
  ROLLUP_MIGRATION,
  ROUTE_SHAPE_MIGRATION,
  SOURCE_MAP_MIGRATION,
  TENANT_OPERATIONS_MIGRATION,
  EVENT_SOURCE_MIGRATION,
  CONSOLE_SESSION_MIGRATION,
  HEALTH_MIGRATION,
]

const MIGRATION_LOCK = 7_311_900_001

/**
 * Applies the pending migrations in one transaction under an advisory lock, so N processes
 * starting together apply each migration once. Answers the versions it applied.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`CREATE TABLE IF NOT EXISTS isogate_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
    const applied = new Set((await tx<{ version: number }[]>`SELECT version FROM isogate_migrations`).map((row) => row.version))
    const done: number[] = []
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      await tx.unsafe(migration.sql)
      await tx`INSERT INTO isogate_migrations (version, name) VALUES (${migration.version}, ${migration.name})`
      done.push(migration.version)
    }
    return done
  }) as Promise<number[]>
}
