import type { Migration } from './migrations.js'
import { tenantOwned } from './row-security.js'

/** Migration 4: cron plans on scripts, and one claimed row per fire (the once-per-slot guard). */
export const CRON_MIGRATION: Migration = {
  version: 4,
  name: 'cron: next/last run on scripts, cron_fires claimed once per (script, slot)',
  sql: `
    ALTER TABLE scripts
      ADD COLUMN next_run_at timestamptz,
      ADD COLUMN last_run_at timestamptz,
      ADD COLUMN last_run_status text;
    CREATE INDEX scripts_cron_due ON scripts (next_run_at) WHERE type = 'scheduled' AND status = 'active';

    -- A changed schedule, status or type is planned again from now. Clearing next_run_at in the
    -- database makes that true for every writer and every process at once; the NOTIFY (sent at
    -- commit) wakes the schedulers of other processes.
    CREATE FUNCTION isogate_cron_replan() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND (NEW.cron_expression, NEW.cron_timezone, NEW.status, NEW.type)
          IS NOT DISTINCT FROM (OLD.cron_expression, OLD.cron_timezone, OLD.status, OLD.type) THEN
        RETURN NEW;
      END IF;
      NEW.next_run_at := NULL;
      IF NEW.type = 'scheduled' OR (TG_OP = 'UPDATE' AND OLD.type = 'scheduled') THEN
        PERFORM pg_notify('isogate_cron', NEW.id::text);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER scripts_cron_replan BEFORE INSERT OR UPDATE ON scripts
      FOR EACH ROW EXECUTE FUNCTION isogate_cron_replan();

    -- The primary key is the claim: whichever process inserts (script, slot) first runs it.
    CREATE TABLE cron_fires (
      script_id uuid NOT NULL REFERENCES scripts (id) ON DELETE CASCADE,
      scheduled_at timestamptz NOT NULL,
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      execution_id uuid NOT NULL,
      status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'timeout', 'skipped')),
      -- overlap | missed (skipped), abandoned (failed: its process stopped mid-run)
      reason text,
      -- slots this row stands for that did not run (missed-slot policy)
      missed integer NOT NULL DEFAULT 0,
      claimed_by text NOT NULL,
      claimed_at timestamptz NOT NULL DEFAULT now(),
      lease_until timestamptz,
      finished_at timestamptz,
      PRIMARY KEY (script_id, scheduled_at)
    );
    CREATE INDEX cron_fires_running ON cron_fires (script_id) WHERE status = 'running';
    CREATE INDEX cron_fires_tenant_scheduled ON cron_fires (tenant_id, scheduled_at DESC);
    ${tenantOwned('cron_fires')}
    GRANT SELECT ON cron_fires TO isogate_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON cron_fires TO isogate_system;
  `,
}

/**
 * Migration 5: the event outbox. Publishing is one SQL function (used by the API, by scripts and
 * by the triggers that turn script and execution changes into domain events), so fan-out to the
 * matching scripts happens in the same transaction that stores the event.
 */
export const EVENTS_MIGRATION: Migration = {
  version: 5,
  name: 'events: outbox, deliveries with leases, dead letters, idempotency, domain events',
  sql: `
    CREATE TABLE events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      type text NOT NULL,
      payload jsonb NOT NULL DEFAULT 'null',
      idempotency_key text,
      depth integer NOT NULL DEFAULT 0,
      source text NOT NULL CHECK (source IN ('api', 'script', 'system')),
      cause_execution_id uuid,
      deliveries integer NOT NULL DEFAULT 0,
      -- set when the event was stored but not delivered (causal depth limit): recorded, not silent
      dropped_reason text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX events_tenant_created ON events (tenant_id, created_at DESC, id DESC);
    ${tenantOwned('events')}

    -- One key per tenant; a key past its window may be taken again (ON CONFLICT ... WHERE expired).
    CREATE TABLE event_idempotency (
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      key text NOT NULL,
      event_id uuid NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, key)
    );
    ${tenantOwned('event_idempotency')}

    CREATE TABLE event_deliveries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      script_id uuid NOT NULL REFERENCES scripts (id) ON DELETE CASCADE,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'dead', 'cancelled')),
      attempt integer NOT NULL DEFAULT 0,
      available_at timestamptz NOT NULL DEFAULT now(),
      lease_until timestamptz,
      claimed_by text,
      started_at timestamptz,
      execution_id uuid,
      attempts jsonb NOT NULL DEFAULT '[]',
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
    CREATE INDEX event_deliveries_due ON event_deliveries (available_at) WHERE status = 'pending';
    CREATE INDEX event_deliveries_leased ON event_deliveries (lease_until) WHERE status = 'running';
    CREATE INDEX event_deliveries_event ON event_deliveries (event_id);
    ${tenantOwned('event_deliveries')}

    -- A snapshot of the event and every attempt: it outlives the event row and the script.
    CREATE TABLE dead_letters (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      delivery_id uuid NOT NULL,
      event_id uuid NOT NULL,
      script_id uuid NOT NULL,
      event jsonb NOT NULL,
      attempts jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      replayed_at timestamptz,
      replay_delivery_id uuid
    );
    CREATE INDEX dead_letters_tenant_created ON dead_letters (tenant_id, created_at DESC, id DESC);
    ${tenantOwned('dead_letters')}

    -- Runs triggered by an event carry its depth and type, so the execution events they cause
    -- are one level deeper, and a run triggered by an execution event causes none about itself.
    ALTER TABLE executions ADD COLUMN event_depth integer, ADD COLUMN event_type text;

    -- 'order.*' matches order.created and order.item.added; '*' matches every type.
    CREATE FUNCTION isogate_event_type_matches(pattern text, type text) RETURNS boolean
      LANGUAGE sql IMMUTABLE AS $$
        SELECT pattern = type OR pattern = '*'
          OR (right(pattern, 2) = '.*' AND length(type) >= length(pattern) AND left(type, length(pattern) - 1) = left(pattern, -1))
      $$;

    CREATE FUNCTION isogate_publish_event(p_tenant uuid, p_type text, p_payload jsonb, p_key text, p_depth integer,
        p_source text, p_cause uuid) RETURNS uuid LANGUAGE plpgsql AS $$
    DECLARE
      v_id uuid;
      v_count integer;
    BEGIN
      IF p_depth > 8 THEN
        INSERT INTO events (tenant_id, type, payload, idempotency_key, depth, source, cause_execution_id, dropped_reason)
        VALUES (p_tenant, p_type, coalesce(p_payload, 'null'::jsonb), p_key, p_depth, p_source, p_cause, 'causal depth limit 8 reached')
        RETURNING id INTO v_id;
        RETURN v_id;
      END IF;
      INSERT INTO events (tenant_id, type, payload, idempotency_key, depth, source, cause_execution_id)
      VALUES (p_tenant, p_type, coalesce(p_payload, 'null'::jsonb), p_key, p_depth, p_source, p_cause)
      RETURNING id INTO v_id;
      INSERT INTO event_deliveries (tenant_id, event_id, script_id)
        SELECT s.tenant_id, v_id, s.id FROM scripts s
        WHERE s.tenant_id = p_tenant AND s.type = 'event' AND s.status = 'active'
          AND EXISTS (SELECT 1 FROM unnest(s.event_types) AS p(pattern) WHERE isogate_event_type_matches(p.pattern, p_type));
      GET DIAGNOSTICS v_count = ROW_COUNT;
      IF v_count > 0 THEN
        UPDATE events SET deliveries = v_count WHERE id = v_id;
        PERFORM pg_notify('isogate_events', p_tenant::text);
      END IF;
      RETURN v_id;
    END $$;

    -- script.created / script.updated / script.deleted. The scheduler's bookkeeping columns are
    -- not a change of the script.
    CREATE FUNCTION isogate_script_events() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_bookkeeping text[] := ARRAY['next_run_at', 'last_run_at', 'last_run_status', 'updated_at'];
      v_row scripts%ROWTYPE;
      v_type text;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        v_row := NEW; v_type := 'script.created';
      ELSIF TG_OP = 'UPDATE' THEN
        IF (to_jsonb(OLD) - v_bookkeeping) = (to_jsonb(NEW) - v_bookkeeping) THEN RETURN NULL; END IF;
        v_row := NEW; v_type := 'script.updated';
      ELSE
        -- The tenant itself is being deleted (cascade): nobody is left to tell.
        IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN RETURN NULL; END IF;
        v_row := OLD; v_type := 'script.deleted';
      END IF;
      PERFORM isogate_publish_event(v_row.tenant_id, v_type,
        jsonb_build_object('scriptId', v_row.id, 'name', v_row.name, 'type', v_row.type, 'status', v_row.status, 'version', v_row.version),
        NULL, 0, 'system', NULL);
      RETURN NULL;
    END $$;
    CREATE TRIGGER scripts_domain_events AFTER INSERT OR UPDATE OR DELETE ON scripts
      FOR EACH ROW EXECUTE FUNCTION isogate_script_events();

    -- execution.completed / execution.failed: stored only when an active script of the tenant
    -- listens for them, so http runs recorded in bulk do not write an event each for nobody.
    CREATE FUNCTION isogate_execution_events() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_type text;
    BEGIN
      IF NEW.status = 'completed' THEN v_type := 'execution.completed';
      ELSIF NEW.status IN ('failed', 'timeout') THEN v_type := 'execution.failed';
      ELSE RETURN NULL;
      END IF;
      IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN RETURN NULL; END IF;
      IF NEW.event_type LIKE 'execution.%' THEN RETURN NULL; END IF;
      IF NOT EXISTS (
        SELECT 1 FROM scripts s WHERE s.tenant_id = NEW.tenant_id AND s.type = 'event' AND s.status = 'active'
          AND EXISTS (SELECT 1 FROM unnest(s.event_types) AS p(pattern) WHERE isogate_event_type_matches(p.pattern, v_type))
      ) THEN RETURN NULL; END IF;
      PERFORM isogate_publish_event(NEW.tenant_id, v_type,
        jsonb_build_object('executionId', NEW.id, 'scriptId', NEW.script_id, 'trigger', NEW.trigger, 'status', NEW.status,
          'error', NEW.error, 'durationMs', NEW.duration_ms),
        NULL, coalesce(NEW.event_depth + 1, 0), 'system', NEW.id);
      RETURN NULL;
    END $$;
    CREATE TRIGGER executions_domain_events AFTER INSERT OR UPDATE OF status ON executions
      FOR EACH ROW EXECUTE FUNCTION isogate_execution_events();

    GRANT SELECT, INSERT, UPDATE ON events, event_idempotency, event_deliveries TO isogate_app;
    GRANT SELECT, UPDATE ON dead_letters TO isogate_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON events, event_idempotency, event_deliveries, dead_letters TO isogate_system;
  `,
}
