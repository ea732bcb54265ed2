/**
 * A sleep that something else can cut short: a loop waits for its next due time or a poll
 * interval, and a notification (LISTEN/NOTIFY from another process, or this process's own
 * change feed) wakes it at once. A wake with nobody waiting is kept for the next wait, so a
 * notification that lands while the loop is busy is not lost.
 */
export class Wakeup {
  #resolve: (() => void) | null = null
  #timer: NodeJS.Timeout | null = null
  #pending = false

  wait(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      this.#resolve = resolve
      this.#timer = setTimeout(() => this.#fire(), Math.max(0, ms))
    })
  }

  wake(): void {
    if (this.#resolve === null) this.#pending = true
    else this.#fire()
  }

  #fire(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const resolve = this.#resolve
    this.#resolve = null
    this.#pending = false
    resolve?.()
  }
}
