import ivm from 'isolated-vm'
import { LRUCache } from 'lru-cache'
import { RunnerError, type ErrorData, type RunnerErrorCode } from './errors.js'
import type { HandlerKind, ProgramRef } from './protocol.js'
import { SCRIPT_FILENAME, pointer, splitMessageLocation, stackLocation, tenantStack } from './source-location.js'

/** A compiled script version, evaluated in a context of its own inside the tenant's isolate. */
export interface Program {
  readonly id: string
  readonly handlers: readonly HandlerKind[]
  readonly dispatch: ivm.Reference<(...args: unknown[]) => Promise<unknown>>
  readonly release: () => void
}

export interface TenantIsolateOptions {
  tenantId: string
  memoryMb: number
  /** The platform bundle's source; compiled once per isolate. */
  platformSource: string
  /** Programs kept per tenant (LRU). */
  maxPrograms: number
}

/**
 * One tenant's V8 isolate and its compiled programs. Nothing in here is ever shared with
 * another tenant. An isolate that hit a limit is condemned: disposed and never reused.
 */
export class TenantIsolate {
  readonly tenantId: string
  readonly memoryMb: number
  lastUsed = Date.now()
  #isolate: ivm.Isolate
  #platform: ivm.Script | null = null
  #programs: LRUCache<string, Promise<Program>>
  #platformSource: string
  #killReason: RunnerErrorCode | null = null
  /** The CPU clock at disposal, so a run that was stopped still reports what it used. */
  #finalCpuNs = 0n

  constructor(options: TenantIsolateOptions) {
    this.tenantId = options.tenantId
    this.memoryMb = options.memoryMb
    this.#platformSource = options.platformSource
    this.#isolate = new ivm.Isolate({ memoryLimit: options.memoryMb })
    this.#programs = new LRUCache<string, Promise<Program>>({
      max: options.maxPrograms,
      dispose: (program) => {
        program.then((p) => p.release(), () => undefined)
      },
    })
  }

  get disposed(): boolean {
    return this.#isolate.isDisposed
  }

  /** Why the isolate was stopped, when the watchdog stopped it. */
  get killReason(): RunnerErrorCode | null {
    return this.#killReason
  }

  cpuTimeNs(): bigint {
    return this.#isolate.isDisposed ? this.#finalCpuNs : this.#isolate.cpuTime
  }

  heapBytes(): number {
    if (this.#isolate.isDisposed) return 0
    const stats = this.#isolate.getHeapStatisticsSync()
    return stats.used_heap_size + stats.externally_allocated_size
  }

  kill(reason: RunnerErrorCode): void {
    this.#killReason ??= reason
    this.dispose()
  }

  dispose(): void {
    this.#programs.clear()
    if (this.#isolate.isDisposed) return
    this.#finalCpuNs = this.#isolate.cpuTime
    this.#isolate.dispose()
  }

  /** Whether a program for this source is compiled already (a hot start). */
  has(ref: ProgramRef): boolean {
    return this.#programs.has(ref.sourceHash)
  }

  /** The compiled program for a script version, compiling it on a miss. */
  program(ref: ProgramRef): Promise<Program> {
    let program = this.#programs.get(ref.sourceHash)
    if (program === undefined) {
      program = this.#compile(ref)
      this.#programs.set(ref.sourceHash, program)
      program.catch(() => this.#programs.delete(ref.sourceHash))
    }
    return program
  }

  forget(sourceHash: string): void {
    this.#programs.delete(sourceHash)
  }

  async #compile(ref: ProgramRef): Promise<Program> {
    const isolate = this.#isolate
    this.#platform ??= await isolate.compileScript(this.#platformSource, { filename: 'isogate:platform' })
    const context = await isolate.createContext()
    const refs: ivm.Reference[] = []
    const release = (): void => {
      // References into a context keep it alive: release them all before the context.
      for (const reference of refs) reference.release()
      context.release()
    }
    try {
      await this.#platform.run(context)
      const api = await context.global.get('__isogate', { reference: true })
      const register = await api.get('register', { reference: true })
      const dispatch = await api.get('dispatch', { reference: true })
      refs.push(api, register, dispatch)
      await context.global.delete('__isogate')
      const module = await compileModule(isolate, ref.source)
      await module.instantiate(context, (specifier) => {
        throw new RunnerError('SCRIPT_IMPORT_FORBIDDEN', `import of "${specifier}" is not allowed: scripts are self-contained modules`)
      })
      await module.evaluate()
      const handlers = (await register.apply(undefined, [ref.sourceHash, module.namespace.derefInto()], {
        result: { copy: true },
      })) as HandlerKind[]
      module.release()
      return { id: ref.sourceHash, handlers, dispatch, release }
    } catch (error) {
      release()
      throw asProgramError(error, ref.source)
    }
  }
}

async function compileModule(isolate: ivm.Isolate, source: string): Promise<ivm.Module> {
  try {
    return await isolate.compileModule(source, { filename: SCRIPT_FILENAME })
  } catch (error) {
    throw syntaxError(error, source)
  }
}

export function syntaxError(error: unknown, source: string): RunnerError {
  const raw = error instanceof Error ? error.message : String(error)
  const { message, location } = splitMessageLocation(raw)
  const data: Partial<ErrorData> = { name: 'SyntaxError' }
  if (location) Object.assign(data, location, { pointer: pointer(source, location) })
  const where = location ? ` (line ${location.line}, column ${location.column})` : ''
  return new RunnerError('SCRIPT_SYNTAX_ERROR', `${message}${where}`, data)
}

function asProgramError(error: unknown, source: string): RunnerError {
  if (error instanceof RunnerError) return error
  if (error instanceof Error && /^Isolate was disposed/.test(error.message)) {
    return new RunnerError(/memory limit/.test(error.message) ? 'SCRIPT_MEMORY_LIMIT' : 'SCRIPT_TIMEOUT')
  }
  if (error instanceof Error && error.name === 'SyntaxError') return syntaxError(error, source)
  if (error instanceof Error && /must `export default`/.test(error.message)) {
    return new RunnerError('SCRIPT_INVALID_EXPORT', error.message.replace(/\s*\[.*\]$/, ''))
  }
  if (error instanceof Error) {
    const stack = tenantStack(error.stack ?? '')
    const location = stackLocation(stack)
    return new RunnerError('SCRIPT_ERROR', error.message, { name: error.name, stack, ...location })
  }
  return new RunnerError('SCRIPT_ERROR', String(error))
}
