import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

import { SEALED_PREFIX } from '../domain/script.js'

const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Script secrets at rest: AES-256-GCM with a key from configuration, a fresh 96-bit IV per value,
 * and the tenant and the secret's name as additional data, so a sealed value copied to another
 * tenant or name does not open. Sealed values are what the database holds; they are opened only
 * on the way into a run (see SecretEnv).
 *
 * @example
 * const box = new SecretBox(key) // 32 bytes
 * const sealed = box.seal(tenantId, 'STRIPE_KEY', 'sk_live_…')
 * box.open(tenantId, 'STRIPE_KEY', sealed) // 'sk_live_…'
 */
export class SecretBox {
  readonly #key: Buffer

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array')
    if (key.length !== 32) throw new RangeError(`key must be 32 bytes, got ${key.length}`)
    this.#key = Buffer.from(key)
  }

  static isSealed(value: string): boolean {
    return value.startsWith(SEALED_PREFIX)
  }

  seal(tenantId: string, name: string, value: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(`${tenantId}/${name}`))
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()])
    return `${SEALED_PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64')}`
  }

  /** Throws when the value was not sealed with this key for this tenant and name. */
  open(tenantId: string, name: string, sealed: string): string {
    if (!SecretBox.isSealed(sealed)) throw new TypeError('the value is not sealed')
    const bytes = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64')
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new RangeError('the sealed value is truncated')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(`${tenantId}/${name}`))
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
  }
}
