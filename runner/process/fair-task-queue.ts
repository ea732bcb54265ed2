import { Piscina, type TaskQueue } from 'piscina'
import { RoundRobin, RunTable } from '../run-table.js'

/** What piscina hands a task queue: the task, whose queue options we set in `inLane`. */
type Task = Parameters<TaskQueue['push']>[0]

const SYSTEM_LANE = ''

/** Marks a worker message with the lane it waits in when its thread is busy: its tenant. */
export function inLane<T extends object>(message: T, lane: string): T {
  return Object.assign(message, { [Piscina.queueOptionsSymbol]: { lane } })
}

function laneOf(task: Task): string {
  // Piscina reads the options from the message under this symbol (its typings say plain `symbol`).
  const options = (task as unknown as Record<symbol, { lane?: unknown } | null>)[Piscina.queueOptionsSymbol]
  return typeof options?.lane === 'string' ? options.lane : SYSTEM_LANE
}

/**
 * Piscina's queue for the runs a worker thread cannot take yet (it has `concurrentTasksPerWorker`
 * in flight), fair across tenants: one lane per tenant, and a freed slot goes to the next lane in
 * round-robin order rather than to the oldest task. A tenant flooding its home thread (or
 * spilling onto another tenant's) then delays another tenant's run by one run at most, not by
 * its whole backlog. Within a lane, first in, first out.
 *
 * Piscina shifts a task, and when no thread can take it after all hands it back with `unshift`
 * (the pool is built with `stricterFIFO`, else it would `push` it to the back): a handed-back
 * task is the next one out, so the round-robin turn it had is kept.
 */
export class FairTaskQueue implements TaskQueue {
  /** Tasks by lane; lanes come and go with their tasks, so not a Map (see ../run-table.ts). */
  readonly #lanes = new RunTable<string, Task[]>()
  /** Lanes with tasks, in round-robin order. */
  readonly #ready = new RoundRobin<string>()
  /** Tasks handed back by piscina, next out (last handed back first, as `unshift` means). */
  readonly #front: Task[] = []
  #size = 0

  get size(): number {
    return this.#size
  }

  push(task: Task): void {
    this.#laneFor(laneOf(task)).push(task)
    this.#size++
  }

  unshift(task: Task): void {
    this.#front.unshift(task)
    this.#size++
  }

  /**
   * The next task, round-robin across lanes; `held` lanes (a tenant over its CPU share,
   * cpu-shares.ts) are passed over and keep their place in the order.
   */
  shift(held?: (lane: string) => boolean): Task | null {
    const returned = this.#front.shift()
    if (returned !== undefined) {
      this.#size--
      return returned
    }
    for (const lane of this.#ready.keys()) {
      if (held?.(lane) === true) continue
      const tasks = this.#lanes.get(lane) as Task[]
      const task = tasks.shift() as Task
      this.#size--
      // To the back of the line, or gone when empty.
      this.#ready.delete(lane)
      if (tasks.length > 0) this.#ready.add(lane)
      else this.#lanes.delete(lane)
      return task
    }
    return null
  }

  /**
   * The oldest task of one lane, out of turn (a tenant under its share of a thread's slots,
   * slot-shares.ts), or null; the lane keeps its place in the round-robin order.
   */
  shiftLane(lane: string): Task | null {
    const tasks = this.#lanes.get(lane)
    if (tasks === undefined) return null
    const task = tasks.shift() as Task
    this.#size--
    if (tasks.length === 0) {
      this.#lanes.delete(lane)
      this.#ready.delete(lane)
    }
    return task
  }

  remove(task: Task): void {
    const returned = this.#front.indexOf(task)
    if (returned !== -1) {
      this.#front.splice(returned, 1)
      this.#size--
      return
    }
    const lane = laneOf(task)
    const tasks = this.#lanes.get(lane)
    const index = tasks?.indexOf(task) ?? -1
    if (tasks === undefined || index === -1) return
    tasks.splice(index, 1)
    this.#size--
    if (tasks.length === 0) {
      this.#lanes.delete(lane)
      this.#ready.delete(lane)
    }
  }

  #laneFor(lane: string): Task[] {
    let tasks = this.#lanes.get(lane)
    if (tasks === undefined) {
      tasks = []
      this.#lanes.set(lane, tasks)
      this.#ready.add(lane)
    }
    return tasks
  }
}
