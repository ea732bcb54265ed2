/**
 * Development only: the piscina entry of a worker thread when isogate runs from its TypeScript
 * sources under `--import tsx`. On Node 20, tsx registers its loader in the main thread only (it
 * needs worker_threads.isInternalThread, Node >= 22), so a worker thread registers it itself and
 * then loads the .ts worker module named by WorkerShard in workerData. Built isogate (dist/)
 * never uses this file.
 */
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
const target = workerData?.tsxWorkerModule
if (typeof target !== 'string') throw new Error('tsx-worker.mjs needs workerData.tsxWorkerModule')
const worker = await import(target)
export default worker.default
