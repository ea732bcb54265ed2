import type { Migration } from './migrations.js'

/**
 * Migration 140: the script that published an event (source 'script'), so its handlers can tell
 * which script it came from; isogate's own events (db.*, script.*, execution.*) have none.
 */
export const EVENT_SOURCE_MIGRATION: Migration = {
  version: 140,
  name: 'events: cause_script_id, the publishing script of a script-published event',
  sql: `ALTER TABLE events ADD COLUMN cause_script_id uuid;`,
}
