import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest random weight) hashing: every key ranks the same N buckets in a stable
 * order, and adding or removing a bucket moves only the keys whose first choice it was.
 */
export function rank(key: string, buckets: number): number[] {
  const scored: Array<[number, number]> = []
  for (let bucket = 0; bucket < buckets; bucket++) {
    const digest = createHash('sha1').update(`${bucket}:${key}`).digest()
    scored.push([digest.readUInt32BE(0), bucket])
  }
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1])
  return scored.map(([, bucket]) => bucket)
}
