// `node:events`: EventEmitter from the `events` package (Node's own events.js for other
// engines). A chunk, loaded when a script imports it.
import EventEmitter from 'events'

export const once = EventEmitter.once
export const defaultMaxListeners = EventEmitter.defaultMaxListeners
export { EventEmitter }
export default EventEmitter
