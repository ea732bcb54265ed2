import { LRUCache } from 'lru-cache'
import { failedRun, type Executor, type LogEntry, type RunResult, type RunTask } from '../../runner/index.js'
import { SecretBox } from './secret-box.js'

const REDACTED = '[REDACTED]'

/**
 * Opens a script's secrets on the way into a run and redacts them on the way out. A task's env
 * comes from the database with secrets still sealed (`env || secrets`); this runner opens them just
 * before the runner gets the task, and replaces every secret value found in the run's logs and
 * error with [REDACTED] before anything is recorded. Every run path (HTTP, cron, events, manual)
 * goes through one of these.
 *
 * @example
 * const executor = new SecretEnv(supervisor, new SecretBox(key))
 * await executor.run(task)
 */
export class SecretEnv implements Executor {
  readonly #inner: Executor
  readonly #box: SecretBox
  /** Opened values by sealed value: a script's secrets are opened once, not on every run. */
  readonly #opened = new LRUCache<string, string>({ max: 10_000 })
  /**
   * Envs seen to hold no sealed value: a route's runs share its env object, and are not read
   * through again. Weak: a route replaced takes its env along. An env is not changed once it runs.
   */
  readonly #plain = new WeakSet<Record<string, string>>()

  constructor(inner: Executor, box: SecretBox) {
    this.#inner = inner
    this.#box = box
  }

  /** Not async: a run whose env holds no sealed value gets the inner run's own promise, not one more that follows it. */
  run(task: RunTask): Promise<RunResult> {
    if (this.#plain.has(task.env)) return this.#inner.run(task)
    return this.#runOpened(task)
  }

  async #runOpened(task: RunTask): Promise<RunResult> {
    let secrets: string[] | null = null
    let env = task.env
    for (const [name, value] of Object.entries(task.env)) {
      if (!SecretBox.isSealed(value)) continue
      if (secrets === null) {
        secrets = []
        env = { ...task.env }
      }
      let opened: string
      try {
        opened = this.#open(task.program.tenantId, name, value)
      } catch {
        // Sealed with another key (ISOGATE_SECRETS_KEY changed, or differs between gateways): the
        // run cannot have its env; say so in its record rather than run it without.
        return unreadable(name)
      }
      env[name] = opened
      if (opened.length > 0) secrets.push(opened)
    }
    if (secrets === null) {
      this.#plain.add(task.env)
      return this.#inner.run(task)
    }
    const result = await this.#inner.run({ ...task, env })
    return redact(result, secrets)
  }

  #open(tenantId: string, name: string, sealed: string): string {
    const key = `${tenantId}\n${name}\n${sealed}`
    let opened = this.#opened.get(key)
    if (opened === undefined) {
      opened = this.#box.open(tenantId, name, sealed)
      this.#opened.set(key, opened)
    }
    return opened
  }
}

function unreadable(name: string): RunResult {
  return failedRun({ code: 'SECRETS_UNREADABLE', message: `the secret ${name} cannot be opened with this gateway's ISOGATE_SECRETS_KEY` })
}

/** Longest first, so a secret that contains another is replaced whole. */
function redact(result: RunResult, secrets: string[]): RunResult {
  const values = [...secrets].sort((a, b) => b.length - a.length)
  const clean = (text: string): string => {
    let out = text
    for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED)
    return out
  }
  const logs: LogEntry[] = result.logs.map((entry) => ({ ...entry, message: clean(entry.message) }))
  const error = result.error === undefined ? undefined : { ...result.error, message: clean(result.error.message), ...(result.error.stack === undefined ? {} : { stack: clean(result.error.stack) }) }
  return { ...result, logs, error }
}
