/**
 * src/host/: the host side of the script APIs that reach outside the gateway. Today the outbound
 * HTTP client behind `fetch` / `ctx.http`; it runs in the gateway process, never in an isolate.
 */
export { EgressPolicy, type EgressDecision, type EgressPolicyOptions } from './egress-policy.js'
export { GuardedFetch, type GuardedFetchOptions } from './guarded-fetch.js'
export { resolveTarget, systemLookup, type EgressTarget, type HostLookup, type ResolvedAddress } from './egress-target.js'
export type { OutboundRequest, OutboundResponse } from './outbound-request.js'
export { hostMatches } from './host-pattern.js'
export { ResolveOverrides, parseResolveEntry, type ResolveOverride } from './resolve-overrides.js'
export { EgressError, EGRESS_ERROR_CODES, type EgressErrorCode } from './errors.js'
