import { randomBytes } from 'node:crypto'
import postgres from 'postgres'

/** A database a shared suite runs against: the embedded one, or a fresh database on a server. */
export interface DatabaseTarget {
  name: 'embedded' | 'server'
  /** undefined for the embedded database. */
  createUrl(): Promise<string | undefined>
  /** Drops what createUrl made. */
  cleanup(): Promise<void>
}

/** Embedded always; the server too when TEST_DATABASE_URL names one (CI sets it). */
export function databaseTargets(): DatabaseTarget[] {
  const targets: DatabaseTarget[] = [{ name: 'embedded', createUrl: async () => undefined, cleanup: async () => {} }]
  const serverUrl = process.env.TEST_DATABASE_URL
  if (serverUrl) targets.push(serverTarget(serverUrl))
  return targets
}

function serverTarget(serverUrl: string): DatabaseTarget {
  const made: string[] = []
  return {
    name: 'server',
    async createUrl() {
      const name = `isogate_test_${randomBytes(6).toString('hex')}`
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`)
      } finally {
        await admin.end()
      }
      made.push(name)
      const url = new URL(serverUrl)
      url.pathname = `/${name}`
      return url.toString()
    },
    async cleanup() {
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
      try {
        for (const name of made.splice(0)) await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await admin.end()
      }
    },
  }
}
