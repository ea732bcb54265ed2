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
 * The same for a process that holds isolates on its main thread (the tests of the tenant isolate,
 * bench/runner-bench.ts): a synchronous full collection as the process exits, after its last
 * JavaScript and before isolated-vm's cleanup hook. It finishes any collection in progress then,
 * whatever started it. `gc` is taken only at exit (`--expose-gc` set at run time puts a `gc`
 * global in every context created after, and none is).
 */
export function collectGarbageAtExit(): void {
  process.on('exit', () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    gc()
  })
}
