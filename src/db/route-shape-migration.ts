import type { Migration } from './migrations.js'

/**
 * Migration 110: a route's shape, its path with parameter names and a trailing slash left out
 * (`/r/:a` and `/r/:b/` are both `/r/:`). Two active routes of a tenant with one shape and one
 * method could never both be reached, so the database refuses the second, as it refuses an
 * identical path (issue 16).
 */
export const ROUTE_SHAPE_MIGRATION: Migration = {
  version: 110,
  name: 'http_routes: one active route per method and shape (parameter names and a trailing slash ignored)',
  sql: `
    ALTER TABLE http_routes ADD COLUMN shape text;
    UPDATE http_routes SET shape = regexp_replace(regexp_replace(path, ':[A-Za-z_][A-Za-z0-9_]*', ':', 'g'), '(.)/$', '\\1');
    ALTER TABLE http_routes ALTER COLUMN shape SET NOT NULL;
    CREATE UNIQUE INDEX http_routes_shape ON http_routes (tenant_id, method, shape);
  `,
}
