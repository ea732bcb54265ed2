import { setTimeout as sleep } from 'node:timers/promises'
import type { Isogate } from '../../src/app.js'
import { api } from './isogate.js'

/** A script with every handler, so any type deploys. */
export const OK = 'export default { fetch() { return new Response("ok") }, run() { return { ok: true } }, scheduled() {}, event() {} }'

export async function until<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await sleep(50)
  }
}

export async function tenant(isogate: Isogate, slug: string): Promise<string> {
  const created = await api(isogate, 'POST', '/api/v1/tenants', { body: { slug, name: slug } })
  if (created.status !== 201) throw new Error(JSON.stringify(created.body))
  return created.body.id
}

export async function script(isogate: Isogate, slug: string, body: Record<string, unknown>): Promise<any> {
  const created = await api(isogate, 'POST', '/api/v1/scripts', { tenant: slug, body: { source: OK, ...body } })
  if (created.status !== 201) throw new Error(JSON.stringify(created.body))
  return created.body
}

export function count(isogate: Isogate, sql: string): Promise<number> {
  return isogate.db.system(async (tx) => Number((await tx.unsafe<Array<{ n: number }>>(sql))[0]!.n))
}
