import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { EgressPolicy } from './egress-policy.js'
import { unbracket } from './egress-policy.js'
import { EgressError } from './errors.js'

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Resolves a host name to all its addresses (like `dns.promises.lookup(name, { all: true })`). */
export type HostLookup = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>

/** Where one hop of an outbound request may connect: the URL and the addresses that were checked. */
export interface EgressTarget {
  readonly url: URL
  /** URL.hostname without IPv6 brackets: what the connector is asked to resolve. */
  readonly hostname: string
  /** Every address the name resolved to, each checked and normalized; connections use only these. */
  readonly addresses: readonly ResolvedAddress[]
  /** The port connected to when the operator mapped this host and port elsewhere; else the URL's. */
  readonly connectPort?: number
}

/** The default HostLookup: the system resolver (getaddrinfo, so /etc/hosts counts), every address. */
export const systemLookup: HostLookup = (hostname) => dnsLookup(hostname, { all: true })

/**
 * Checks a URL with the policy, resolves its host once and checks every address it resolved to;
 * one refused address refuses the hop (a name with a public and a private address could
 * otherwise be steered to the private one). Literal addresses are not resolved; a host and port
 * the operator mapped (EgressPolicyOptions.resolve) is not resolved either, and goes to its address.
 *
 * @example
 * const target = await resolveTarget(policy, systemLookup, 'tenant-1', new URL('https://example.com/'))
 * target.addresses // [{ address: '93.184.216.34', family: 4 }]
 */
export async function resolveTarget(
  policy: EgressPolicy,
  lookup: HostLookup,
  tenantId: string,
  url: URL,
  signal?: AbortSignal,
): Promise<EgressTarget> {
  const decision = policy.checkUrl(tenantId, url)
  if (!decision.allowed) throw new EgressError('EGRESS_DENIED', decision.reason)
  const hostname = unbracket(url.hostname)
  if (isIP(hostname) !== 0) return { url, hostname, addresses: [normalized(hostname)] }
  const override = policy.overrideFor(url)
  if (override !== undefined) {
    return { url, hostname, addresses: [{ address: override.address, family: override.family }], connectPort: override.connectPort }
  }

  let answers: ReadonlyArray<{ address: string; family: number }>
  try {
    answers = await abortable(lookup(hostname), signal)
  } catch (error) {
    if (signal?.aborted === true) throw error
    throw new EgressError('EGRESS_FAILED', `could not resolve ${hostname}`, { cause: error })
  }
  if (!Array.isArray(answers) || answers.length === 0) throw new EgressError('EGRESS_FAILED', `${hostname} has no addresses`)
  for (const answer of answers) {
    const verdict = policy.checkAddress(answer?.address)
    if (!verdict.allowed) throw new EgressError('EGRESS_DENIED', `${hostname} resolves to a refused address: ${verdict.reason}`)
  }
  return { url, hostname, addresses: answers.map((answer) => normalized(answer.address)) }
}

/** The canonical form connected to: the one that was checked, never the resolver's spelling. */
function normalized(address: string): ResolvedAddress {
  const parsed = ipaddr.process(address)
  return { address: parsed.toString(), family: parsed.kind() === 'ipv4' ? 4 : 6 }
}

/** A lookup cannot be cancelled, but the request stops waiting for it when the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
