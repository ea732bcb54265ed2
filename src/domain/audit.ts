import type { Principal } from './auth.js'
import type { Script } from './script.js'

export const AUDIT_ACTIONS = [
  'tenant.create',
  'tenant.update',
  'tenant.suspend',
  'tenant.resume',
  'tenant.delete',
  'tenant.quota',
  'script.create',
  'script.update',
  'script.status',
  'script.rollback',
  'script.delete',
  'key.create',
  'key.revoke',
  'code.execute',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** One line of the append-only audit trail: who did what to which resource, before and after. */
export interface AuditEntry {
  id: string
  tenantId: string
  actorKeyId: string | null
  actorRole: string
  action: AuditAction
  resourceType: 'tenant' | 'script' | 'api_key' | 'execution'
  resourceId: string
  before: Record<string, unknown> | null
  after: Record<string, unknown> | null
  createdAt: Date
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'createdAt'>

export function auditEntry(
  principal: Principal,
  tenantId: string,
  action: AuditAction,
  resource: { type: AuditEntry['resourceType']; id: string },
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): NewAuditEntry {
  return { tenantId, actorKeyId: principal.keyId, actorRole: principal.role, action, resourceType: resource.type, resourceId: resource.id, before, after }
}

/**
 * What the trail keeps of a script: its shape and version, never its source or env values
 * (env may hold credentials; the names are enough to see what changed).
 */
export function scriptSummary(script: Script, sourceHash?: string): Record<string, unknown> {
  return {
    name: script.name,
    type: script.type,
    status: script.status,
    version: script.version,
    ...(sourceHash === undefined ? {} : { sourceHash }),
    http: script.http,
    cron: script.cron,
    events: script.events,
    limits: script.limits,
    observability: script.observability,
    envNames: Object.keys(script.env).sort(),
  }
}
