import { setFlagsFromString } from 'node:v8'
import { measureMemory, runInNewContext } from 'node:vm'

/**
 * A full collection of the calling thread's own heap, for a thread (or a process's main thread)
 * that held isolated-vm's handles and is about to end.
 *
 * Why: Node ends a thread by running isolated-vm's cleanup hook first (its state for the thread
 * goes) and detaching V8's heap after. A collection still in progress then is finished atomically
 * (`CppHeap::DetachIsolate`), and its weak callbacks finalise isolated-vm's handles of disposed
 * isolates with no state left for them: `IsolateEnvironment::GetCurrent`'s assertion aborts the
 * process. A worker thread ended that way took its runner down (10 of 12 closes of a pool whose
 * thread had just run 16 timer-waiting runs of 8 tenants; none of 28 after a collection); a test
 * process holding isolates on its main thread aborted at exit after its last assertion, about one
 * CI run in three. After a full collection the handles are finalised while isolated-vm's state
 * still exists, and no collection is left in progress.
 *
 * An eager memory measurement is a full collection that needs no --expose-gc (which would put a
 * `gc` global in every context created after, the tenants' too). Only its promise's end says the
 * collection is done: a measurement started and not awaited leaves a collection in progress, the
 * very state above.
 */
export async function collectGarbage(): Promise<void> {
  // Node 20 to 24 call vm.measureMemory experimental and say so on stderr once a process, at every
  // runner's shutdown then; only its collection is used here, so the notice is not passed on.
  const emitWarning = process.emitWarning
  process.emitWarning = () => {}
  let measured: Promise<unknown>
  try {
    measured = measureMemory({ mode: 'summary', execution: 'eager' })
  } finally {
    process.emitWarning = emitWarning
  }
  await measured
}

/**
 * The same for a thread that ends holding isolates: the process's main thread in the tests of the
 * tenant isolate and bench/runner-bench.ts, or a worker thread ending on an uncaught error
 * (worker.ts). A synchronous full collection as the thread exits, after its last JavaScript and
 * before isolated-vm's cleanup hook, finishes any collection in progress then, whatever started
 * it. An eager measurement does not do here: in a runner (`--no-node-snapshot`) a worker thread
 * that awaited one still ended with a collection in progress, every time.
 *
 * `gc` is taken only at exit, and `--expose-gc` is unset again at once: the flag is the process's,
 * and puts a `gc` global in every context created while it is set, a tenant's on another thread
 * too. In that moment's window such a context gets a `gc` of its own isolate, nothing more.
 */
export function collectGarbageAtExit(): void {
  process.on('exit', () => {
    // Started with --expose-gc: the flag stays as it was.
    const exposed = (globalThis as { gc?: () => void }).gc
    if (typeof exposed === 'function') {
      exposed()
      return
    }
    setFlagsFromString('--expose-gc')
    let gc: () => void
    try {
      gc = runInNewContext('gc') as () => void
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
    gc()
  })
}
