import type { Migration } from './migrations.js'
import { tenantOwned } from './row-security.js'

/**
 * Migration 100 (issue 15): exact per-minute rollups of every run, and a script's observability
 * settings (its HTTP sample rate). A gateway process writes one row per script and minute under
 * its own node id, with the absolute counts it has seen in that minute, so its upserts never
 * collide with another process's and a rewrite after a failed write is harmless; readers add
 * the rows of every node up. Histograms are fixed buckets (src/domain/execution-rollup.ts), summed
 * element-wise by isogate_bigint_array_sum.
 */
export const ROLLUP_MIGRATION: Migration = {
  version: 100,
  name: 'execution rollups per script and minute; scripts.observability',
  sql: `
    ALTER TABLE scripts ADD COLUMN observability jsonb NOT NULL DEFAULT '{}';

    CREATE TABLE execution_rollups (
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      script_id uuid NOT NULL,
      minute timestamptz NOT NULL,
      node_id uuid NOT NULL,
      runs bigint NOT NULL,
      completed bigint NOT NULL,
      failed bigint NOT NULL,
      failed_by_code jsonb NOT NULL DEFAULT '{}',
      http_1xx bigint NOT NULL DEFAULT 0,
      http_2xx bigint NOT NULL DEFAULT 0,
      http_3xx bigint NOT NULL DEFAULT 0,
      http_4xx bigint NOT NULL DEFAULT 0,
      http_5xx bigint NOT NULL DEFAULT 0,
      duration_sum_ms double precision NOT NULL DEFAULT 0,
      cpu_sum_ms double precision NOT NULL DEFAULT 0,
      duration_hist bigint[] NOT NULL,
      cpu_hist bigint[] NOT NULL,
      bytes_in bigint NOT NULL DEFAULT 0,
      bytes_out bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, script_id, minute, node_id)
    );
    -- Retention deletes by minute across tenants.
    CREATE INDEX execution_rollups_minute ON execution_rollups (minute);
    ${tenantOwned('execution_rollups')}
    GRANT SELECT ON execution_rollups TO isogate_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON execution_rollups TO isogate_system;

    -- Element-wise sum of two histograms (a NULL side is the other); an aggregate over rows.
    CREATE FUNCTION isogate_bigint_array_add(a bigint[], b bigint[]) RETURNS bigint[]
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
          ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i) ORDER BY i) END
      $$;
    CREATE AGGREGATE isogate_bigint_array_sum(bigint[]) (SFUNC = isogate_bigint_array_add, STYPE = bigint[]);

    -- Sum of two {code: count} objects; an aggregate over rows.
    CREATE FUNCTION isogate_counts_add(a jsonb, b jsonb) RETURNS jsonb
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb) FROM (
          SELECT key, sum(value::bigint) AS total
          FROM (SELECT * FROM jsonb_each_text(coalesce(a, '{}'::jsonb)) UNION ALL SELECT * FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) AS e
          GROUP BY key) AS s
      $$;
    CREATE AGGREGATE isogate_counts_sum(jsonb) (SFUNC = isogate_counts_add, STYPE = jsonb, INITCOND = '{}');
  `,
}
