import type { Migration } from './migrations.js'
import { tenantOwned } from './row-security.js'

/**
 * Migration 130 (issue 18): what an operator of many tenants needs. Tenant status (suspend and
 * resume), per-tenant quotas set by a superadmin, the tenant's ctx.db usage kept by a trigger
 * (so a write checks its quota without summing the tenant's documents), key expiry and the
 * bootstrap key's origin (so a new ISOGATE_ADMIN_TOKEN replaces the old one), a first-start
 * marker (the demo tenant is offered once), and the indexes the trigger-table retention purges by.
 */
export const TENANT_OPERATIONS_MIGRATION: Migration = {
  version: 130,
  name: 'tenant status and quotas, ctx.db usage, key expiry and origin, first-start state, retention indexes',
  sql: `
    ALTER TABLE tenants
      ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
    CREATE INDEX tenants_created ON tenants (created_at DESC, id DESC);

    -- Only what the operator set; a missing field is the default from the settings.
    CREATE TABLE tenant_quotas (
      tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
      quota jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(quota) = 'object'),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    ${tenantOwned('tenant_quotas')}
    GRANT SELECT ON tenant_quotas TO isogate_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_quotas TO isogate_system;

    -- Bytes of the tenant's documents, kept in the writing transaction. The row lock this takes
    -- orders one tenant's concurrent writes, so the quota check after a write is exact.
    CREATE TABLE tenant_usage (
      tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
      db_bytes bigint NOT NULL DEFAULT 0
    );
    ${tenantOwned('tenant_usage')}
    GRANT SELECT, INSERT, UPDATE ON tenant_usage TO isogate_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_usage TO isogate_system;
    INSERT INTO tenant_usage (tenant_id, db_bytes) SELECT tenant_id, sum(bytes) FROM documents GROUP BY tenant_id;

    CREATE FUNCTION isogate_document_usage() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_usage (tenant_id, db_bytes) VALUES (NEW.tenant_id, NEW.bytes)
          ON CONFLICT (tenant_id) DO UPDATE SET db_bytes = tenant_usage.db_bytes + EXCLUDED.db_bytes;
      ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.bytes <> OLD.bytes THEN
          UPDATE tenant_usage SET db_bytes = db_bytes + NEW.bytes - OLD.bytes WHERE tenant_id = NEW.tenant_id;
        END IF;
      ELSE
        -- Also reached by a tenant's delete cascade, when its usage row may be gone already.
        UPDATE tenant_usage SET db_bytes = db_bytes - OLD.bytes WHERE tenant_id = OLD.tenant_id;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER documents_usage AFTER INSERT OR UPDATE OF bytes OR DELETE ON documents
      FOR EACH ROW EXECUTE FUNCTION isogate_document_usage();

    -- expires_at: a key stops working then. origin: 'env' (ISOGATE_ADMIN_TOKEN) or 'generated'
    -- (first start) for bootstrap keys, so a new ISOGATE_ADMIN_TOKEN revokes the previous one.
    -- revoked_reason: 'rotated' (a new ISOGATE_ADMIN_TOKEN replaced it: setting the old value
    -- again brings it back) or 'revoked' (through the API: it stays revoked).
    ALTER TABLE api_keys ADD COLUMN expires_at timestamptz, ADD COLUMN origin text CHECK (origin IN ('env', 'generated')),
      ADD COLUMN revoked_reason text CHECK (revoked_reason IN ('rotated', 'revoked'));
    UPDATE api_keys SET origin = 'env' WHERE role = 'superadmin' AND name = 'bootstrap (ISOGATE_ADMIN_TOKEN)';
    UPDATE api_keys SET origin = 'generated' WHERE role = 'superadmin' AND name = 'bootstrap (generated)';
    CREATE INDEX api_keys_superadmin ON api_keys (created_at, id) WHERE tenant_id IS NULL;

    -- Facts about this installation (not about a tenant): 'first-start' is written once.
    CREATE TABLE isogate_state (
      key text PRIMARY KEY,
      value jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    GRANT SELECT, INSERT, UPDATE ON isogate_state TO isogate_system;
    -- An installation that has tenants already had its first start.
    INSERT INTO isogate_state (key, value) SELECT 'first-start', to_jsonb(min(created_at)) FROM tenants HAVING count(*) > 0;

    -- Retention purges of the trigger tables walk these (oldest first, in batches).
    CREATE INDEX events_created ON events (created_at);
    CREATE INDEX event_deliveries_finished ON event_deliveries (finished_at) WHERE status IN ('completed', 'cancelled', 'dead');
    CREATE INDEX event_idempotency_expires ON event_idempotency (expires_at);
    CREATE INDEX cron_fires_finished ON cron_fires (finished_at) WHERE status <> 'running';
    CREATE INDEX dead_letters_created ON dead_letters (created_at);
  `,
}
