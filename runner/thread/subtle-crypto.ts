import { webcrypto } from 'node:crypto'
import type { HostCall, HostRegistry } from './host-bridge.js'

type CryptoKey = webcrypto.CryptoKey
/** Node's SubtleCrypto, called with the isolate's (checked by Node) dictionaries as they came. */
type Operation = (...args: unknown[]) => Promise<unknown>
const subtle = webcrypto.subtle as unknown as { [name in 'importKey' | 'generateKey' | 'sign' | 'verify' | 'encrypt' | 'decrypt' | 'deriveBits' | 'deriveKey']: Operation } & {
  exportKey(format: string, key: CryptoKey): Promise<ArrayBuffer>
}

/**
 * A key as it lives inside an isolate: its algorithm, type and usages, and its material in one
 * format (raw for secret keys, pkcs8 for private, spki for public) held in a private field of the
 * platform's CryptoKey, which the script cannot read (exportKey checks `extractable` there). Every
 * operation brings the key along and the host imports it again: the host keeps no key state, so
 * nothing a tenant makes outlives its isolate or grows the worker.
 */
export interface KeyRecord {
  type: 'secret' | 'private' | 'public'
  algorithm: Record<string, unknown>
  usages: string[]
  format: 'raw' | 'pkcs8' | 'spki'
  material: ArrayBuffer
}

/** What the platform gets back: a value, or the DOMException's name and message, rebuilt inside. */
type Outcome = { value: unknown } | { error: { name: string; message: string } }

/** Key algorithms whose keys WebCrypto never lets out (password and input keying material). */
const NEVER_EXTRACTABLE = new Set(['PBKDF2', 'HKDF'])

function algorithmName(algorithm: unknown): string {
  const name = typeof algorithm === 'string' ? algorithm : (algorithm as { name?: unknown } | null)?.name
  return String(name ?? '').toUpperCase()
}

const OPERATIONS = new Set(['importKey', 'exportKey', 'generateKey', 'sign', 'verify', 'encrypt', 'decrypt', 'deriveBits', 'deriveKey'])

/**
 * `crypto.subtle` for isolates: each operation runs in Node's WebCrypto on the worker thread, so
 * the isolate gets the same algorithms and the same errors (DOMException names) as Node and
 * workerd. The time an operation takes is charged to the run's CPU (`HostCall.chargeCpu`), so a
 * script cannot dodge `cpuMs` by handing work to the host. Only copied data crosses: algorithm
 * dictionaries, bytes, key records.
 */
export function registerSubtleCrypto(registry: HostRegistry): HostRegistry {
  return registry.register('crypto.subtle', subtleOperation, { counted: false })
}

async function subtleOperation(_tenantId: string, args: unknown[], call: HostCall): Promise<Outcome> {
  const [operation, ...rest] = args
  if (typeof operation !== 'string' || !OPERATIONS.has(operation)) return failure('NotSupportedError', `crypto.subtle has no operation ${String(operation)}`)
  const started = process.hrtime.bigint()
  try {
    return { value: await run(operation, rest) }
  } catch (error) {
    const name = error instanceof Error ? error.name : 'OperationError'
    const message = error instanceof Error ? error.message : String(error)
    return failure(name === 'Error' ? 'OperationError' : name, message)
  } finally {
    call.chargeCpu?.(process.hrtime.bigint() - started)
  }
}

function failure(name: string, message: string): Outcome {
  return { error: { name, message } }
}

async function run(operation: string, args: unknown[]): Promise<unknown> {
  switch (operation) {
    case 'importKey': {
      const [format, keyData, algorithm, usages] = args as [string, unknown, AlgorithmLike, string[]]
      if (NEVER_EXTRACTABLE.has(algorithmName(algorithm))) {
        // Checked by Node, then kept as the bytes given: there is no exporting such a key.
        const key = (await subtle.importKey(format, keyData as ArrayBuffer, await hostAlgorithm(algorithm), false, usages)) as CryptoKey
        return { type: 'secret', algorithm: plainAlgorithm(key.algorithm as unknown as Record<string, unknown>), usages: [...key.usages], format: 'raw', material: keyData }
      }
      const key = (await subtle.importKey(format, keyData as ArrayBuffer, await hostAlgorithm(algorithm), true, usages)) as CryptoKey
      return toRecord(key)
    }
    case 'generateKey': {
      const [algorithm, usages] = args as [AlgorithmLike, string[]]
      const generated = (await subtle.generateKey(await hostAlgorithm(algorithm), true, usages)) as CryptoKey | { publicKey: CryptoKey; privateKey: CryptoKey }
      if ('privateKey' in generated) return { publicKey: await toRecord(generated.publicKey), privateKey: await toRecord(generated.privateKey) }
      return toRecord(generated)
    }
    case 'exportKey': {
      const [format, record] = args as [string, KeyRecord]
      const exported = await subtle.exportKey(format, await fromRecord(record))
      return exported
    }
    case 'sign': {
      const [algorithm, record, data] = args as [AlgorithmLike, KeyRecord, ArrayBuffer]
      return subtle.sign(await hostAlgorithm(algorithm), await fromRecord(record), data)
    }
    case 'verify': {
      const [algorithm, record, signature, data] = args as [AlgorithmLike, KeyRecord, ArrayBuffer, ArrayBuffer]
      return subtle.verify(await hostAlgorithm(algorithm), await fromRecord(record), signature, data)
    }
    case 'encrypt':
    case 'decrypt': {
      const [algorithm, record, data] = args as [AlgorithmLike, KeyRecord, ArrayBuffer]
      return subtle[operation](await hostAlgorithm(algorithm), await fromRecord(record), data)
    }
    case 'deriveBits': {
      const [algorithm, record, length] = args as [AlgorithmLike, KeyRecord, number | null]
      return subtle.deriveBits(await hostAlgorithm(algorithm), await fromRecord(record), length as number)
    }
    case 'deriveKey': {
      const [algorithm, record, derived, usages] = args as [AlgorithmLike, KeyRecord, AlgorithmLike, string[]]
      const key = (await subtle.deriveKey(await hostAlgorithm(algorithm), await fromRecord(record), await hostAlgorithm(derived), true, usages)) as CryptoKey
      return toRecord(key)
    }
  }
  throw new DOMException(`crypto.subtle has no operation ${operation}`, 'NotSupportedError')
}

type AlgorithmLike = string | (Record<string, unknown> & { name?: unknown })

/** An algorithm dictionary with its CryptoKey members (ECDH's `public`) turned back into host keys. */
async function hostAlgorithm(algorithm: AlgorithmLike): Promise<unknown> {
  if (typeof algorithm === 'string' || algorithm === null || typeof algorithm !== 'object') return algorithm as never
  const out: Record<string, unknown> = { ...algorithm }
  if (isRecord(out.public)) out.public = await fromRecord(out.public as unknown as KeyRecord)
  return out as never
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'material' in value && 'format' in value
}

async function toRecord(key: CryptoKey): Promise<KeyRecord> {
  const format = key.type === 'secret' ? 'raw' : key.type === 'private' ? 'pkcs8' : 'spki'
  return {
    type: key.type,
    algorithm: plainAlgorithm(key.algorithm as unknown as Record<string, unknown>),
    usages: [...key.usages],
    format,
    material: await subtle.exportKey(format, key),
  }
}

function plainAlgorithm(algorithm: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(algorithm)) {
    const value = algorithm[key]
    if (value instanceof Uint8Array) out[key] = new Uint8Array(value)
    else if (value !== null && typeof value === 'object') out[key] = plainAlgorithm(value as Record<string, unknown>)
    else out[key] = value
  }
  return out
}

function importAlgorithm(algorithm: Record<string, unknown>): Record<string, unknown> {
  // RSA keys are imported by name and hash; the generation parameters are not import parameters.
  const { modulusLength: _m, publicExponent: _e, ...rest } = algorithm
  return rest
}

async function fromRecord(record: KeyRecord): Promise<CryptoKey> {
  if (!isRecord(record)) throw new TypeError('the key is not a CryptoKey')
  const extractable = !NEVER_EXTRACTABLE.has(algorithmName(record.algorithm))
  return (await subtle.importKey(record.format, record.material, importAlgorithm(record.algorithm) as unknown, extractable, record.usages)) as CryptoKey
}
