import type { Migration } from './migrations.js'

/**
 * Migration 230 (issue 21): the console's tenant overview reads a tenant's rollups of the last
 * hour across all its scripts. The primary key leads with (tenant_id, script_id), so without
 * this index that read walks every rollup the tenant has kept (400 days by default) or every
 * tenant's rows of the hour.
 */
export const HEALTH_MIGRATION: Migration = {
  version: 230,
  name: 'execution_rollups (tenant_id, minute): a tenant health overview',
  sql: `
    CREATE INDEX execution_rollups_tenant_minute ON execution_rollups (tenant_id, minute);
  `,
}
