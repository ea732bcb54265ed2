/**
 * Row-level security for a tenant-owned table: the app role sees one tenant, the system role all.
 * In a module of its own so that migration modules can use it without importing migrations.ts
 * (which imports them: an import cycle would leave MIGRATIONS half made).
 */
export function tenantOwned(table: string, column = 'tenant_id'): string {
  return `
    ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY ${table}_tenant_isolation ON ${table} TO isogate_app
      USING (${column} = isogate_current_tenant()) WITH CHECK (${column} = isogate_current_tenant());
    CREATE POLICY ${table}_system_access ON ${table} TO isogate_system USING (true) WITH CHECK (true);
  `
}
