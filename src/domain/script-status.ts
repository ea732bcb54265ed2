import type { ScriptStatus } from './script.js'

/**
 * The allowed status changes. A draft goes live or is archived; a live script can be paused
 * (stops serving, resumable), disabled (an operator's stop) or archived; an archived script
 * comes back only as a draft, so it is reviewed before it serves again. Staying put is allowed.
 */
export const STATUS_TRANSITIONS: Readonly<Record<ScriptStatus, readonly ScriptStatus[]>> = Object.freeze({
  draft: ['active', 'archived'],
  active: ['paused', 'disabled', 'archived'],
  paused: ['active', 'disabled', 'archived'],
  disabled: ['active', 'paused', 'archived'],
  archived: ['draft'],
})

export function canTransition(from: ScriptStatus, to: ScriptStatus): boolean {
  return from === to || STATUS_TRANSITIONS[from].includes(to)
}

/** Manual runs: a draft can be tried before it goes live; a disabled or archived script cannot run. */
export function canRunManually(status: ScriptStatus): boolean {
  return status !== 'disabled' && status !== 'archived'
}
