// DOM Event and EventTarget, as far as a target without a tree needs them (AbortSignal):
// listeners in registration order, once/passive/signal options, stopImmediatePropagation, and
// errors in a listener reported (to the run's log) without stopping the other listeners.
import { format } from './console.js'
import { DOMException } from './dom-exception.js'
import { brand } from './lazy.js'
import { current } from './runtime.js'

let beginDispatch
let endDispatch
let stopped
let setPassive

export class Event {
  #type
  #bubbles
  #cancelable
  #composed
  #timeStamp = Date.now()
  #defaultPrevented = false
  #stop = false
  #target = null
  #currentTarget = null
  #dispatching = false
  #passive = false

  constructor(type, init = {}) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.")
    this.#type = String(type)
    this.#bubbles = Boolean(init?.bubbles)
    this.#cancelable = Boolean(init?.cancelable)
    this.#composed = Boolean(init?.composed)
  }

  get type() { return this.#type }
  get target() { return this.#target }
  get srcElement() { return this.#target }
  get currentTarget() { return this.#currentTarget }
  get eventPhase() { return this.#dispatching ? Event.AT_TARGET : Event.NONE }
  get bubbles() { return this.#bubbles }
  get cancelable() { return this.#cancelable }
  get composed() { return this.#composed }
  get defaultPrevented() { return this.#defaultPrevented }
  get returnValue() { return !this.#defaultPrevented }
  get timeStamp() { return this.#timeStamp }
  get isTrusted() { return false }
  get cancelBubble() { return this.#stop }
  set cancelBubble(value) { if (value) this.#stop = true }
  composedPath() { return this.#dispatching && this.#currentTarget !== null ? [this.#currentTarget] : [] }
  preventDefault() { if (this.#cancelable && !this.#passive) this.#defaultPrevented = true }
  stopPropagation() {}
  stopImmediatePropagation() { this.#stop = true }
  get [Symbol.toStringTag]() { return 'Event' }

  static {
    beginDispatch = (event, target) => {
      if (event.#dispatching) throw new DOMException('The event is already being dispatched.', 'InvalidStateError')
      event.#dispatching = true
      event.#target = target
      event.#currentTarget = target
      event.#stop = false
    }
    endDispatch = (event) => {
      event.#dispatching = false
      event.#currentTarget = null
      event.#passive = false
    }
    stopped = (event) => event.#stop
    setPassive = (event, passive) => { event.#passive = passive }
  }
}

for (const [name, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
  Object.defineProperty(Event, name, { value, enumerable: true })
  Object.defineProperty(Event.prototype, name, { value, enumerable: true })
}

function flatten(options) {
  if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: null }
  if (options === null || typeof options !== 'object') return { capture: false, once: false, passive: false, signal: null }
  return { capture: Boolean(options.capture), once: Boolean(options.once), passive: Boolean(options.passive), signal: options.signal ?? null }
}

/** A listener's uncaught error goes to the run's log, as a browser reports it to its console. */
function reportError(error) {
  if (current !== null) current.log('error', `Uncaught ${format([error])}`)
}

export class EventTarget {
  /** @type {Map<string, Array<{ callback: unknown, capture: boolean, once: boolean, passive: boolean, removed: boolean }>>} */
  #listeners = new Map()

  addEventListener(type, callback, options) {
    if (callback === null || callback === undefined) return
    const { capture, once, passive, signal } = flatten(options)
    if (signal !== null && signal.aborted) return
    const key = String(type)
    let list = this.#listeners.get(key)
    if (list === undefined) this.#listeners.set(key, (list = []))
    if (list.some((l) => l.callback === callback && l.capture === capture)) return
    list.push({ callback, capture, once, passive, removed: false })
    if (signal !== null) signal.addEventListener('abort', () => this.removeEventListener(key, callback, { capture }))
  }

  removeEventListener(type, callback, options) {
    const { capture } = flatten(options)
    const list = this.#listeners.get(String(type))
    if (list === undefined) return
    const index = list.findIndex((l) => l.callback === callback && l.capture === capture)
    if (index === -1) return
    list[index].removed = true
    list.splice(index, 1)
  }

  dispatchEvent(event) {
    if (!(event instanceof Event)) throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.")
    beginDispatch(event, this)
    try {
      const list = this.#listeners.get(event.type)
      if (list !== undefined) {
        for (const listener of [...list]) {
          if (listener.removed) continue
          if (listener.once) this.removeEventListener(event.type, listener.callback, { capture: listener.capture })
          setPassive(event, listener.passive)
          try {
            if (typeof listener.callback === 'function') listener.callback.call(this, event)
            else if (listener.callback !== null && typeof listener.callback.handleEvent === 'function') listener.callback.handleEvent(event)
          } catch (error) {
            reportError(error)
          }
          setPassive(event, false)
          if (stopped(event)) break
        }
      }
    } finally {
      endDispatch(event)
    }
    return !event.defaultPrevented
  }

  get [Symbol.toStringTag]() { return 'EventTarget' }
}

export class CustomEvent extends Event {
  #detail
  constructor(type, init = {}) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'CustomEvent': 1 argument required, but only 0 present.")
    super(type, init)
    this.#detail = init?.detail ?? null
  }

  get detail() { return this.#detail }
  get [Symbol.toStringTag]() { return 'CustomEvent' }
}

brand(Event, EventTarget, CustomEvent)
