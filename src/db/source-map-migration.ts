import type { Migration } from './migrations.js'

/**
 * Migration 120: a version keeps the source map it was deployed with (`isogate deploy` bundles
 * TypeScript and npm packages with esbuild), so errors of its runs point at the original files.
 * Read only when an error is shown, never on the run path.
 */
export const SOURCE_MAP_MIGRATION: Migration = {
  version: 120,
  name: 'script versions keep their source map',
  sql: `
    ALTER TABLE script_versions ADD COLUMN source_map text;
  `,
}
