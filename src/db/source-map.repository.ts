import type { Tx } from './database.js'

/** The source maps of script versions (migration 120). */
export class SourceMapRepository {
  /** Sets (or clears, with null) the map of one version. */
  async save(tx: Tx, scriptId: string, version: number, map: string | null): Promise<void> {
    await tx`UPDATE script_versions SET source_map = ${map} WHERE script_id = ${scriptId} AND version = ${version}`
  }

  async find(tx: Tx, scriptId: string, version: number): Promise<string | null> {
    const [row] = await tx<Array<{ source_map: string | null }>>`
      SELECT source_map FROM script_versions WHERE script_id = ${scriptId} AND version = ${version}`
    return row?.source_map ?? null
  }

  /** A rollback's new version gets the map of the version whose source it takes. */
  async copy(tx: Tx, scriptId: string, from: number, to: number): Promise<void> {
    await tx`
      UPDATE script_versions SET source_map = (SELECT source_map FROM script_versions WHERE script_id = ${scriptId} AND version = ${from})
      WHERE script_id = ${scriptId} AND version = ${to}`
  }
}
