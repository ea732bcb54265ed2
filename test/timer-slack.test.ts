import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { IsolatePool } from '../runner/index.js'
import { setTimerSlack } from '../runner/process/timer-slack.js'
import { bodyText, fetchTask } from './helpers/programs.js'

const SLACK_FILE = '/proc/self/timerslack_ns'
const slackNs = (): number => Number(readFileSync(SLACK_FILE, 'utf8').trim())

t.test('a pool sets the timer slack its threads inherit before it starts them, and its runs and timers work under it', { skip: !existsSync(SLACK_FILE) && 'no /proc/self/timerslack_ns (not Linux)' }, async (t) => {
  const before = slackNs()
  t.not(before, 2_000_000, 'the process starts with another slack')
  const pool = new IsolatePool({ threads: 1, timerSlackUs: 2000 })
  t.teardown(() => pool.close())
  t.equal(slackNs(), 2_000_000, 'the calling (main) thread has 2 ms, which the worker thread inherits')
  // A synchronous step's bound and a script's timer under the slack.
  const waits = fetchTask('slack', `export default { async fetch() { const started = Date.now(); await new Promise((resolve) => setTimeout(resolve, 20)); return new Response(String(Date.now() - started)) } }`)
  const result = await pool.run(waits)
  t.ok(result.ok, JSON.stringify(result.error))
  const waited = Number(bodyText(result.response?.body))
  t.ok(waited >= 19, `the script's 20 ms timer fired after ${waited} ms`)
  const spins = fetchTask('slack', `export default { fetch() { for (;;) {} } }`, {}, { cpuMs: 50, timeoutMs: 5000 })
  const spun = await pool.run(spins)
  t.equal(spun.error?.code, 'SCRIPT_CPU_LIMIT', 'a spinning run is still stopped at its CPU limit')
})

t.test('0 leaves the slack as it is; a bad value is refused', { skip: !existsSync(SLACK_FILE) && 'not Linux' }, async (t) => {
  const before = slackNs()
  t.equal(setTimerSlack(0), true)
  t.equal(slackNs(), before)
  t.throws(() => new IsolatePool({ threads: 1, timerSlackUs: -1 }), { name: 'TypeError', message: /options\.timerSlackUs/ })
  t.throws(() => new IsolatePool({ threads: 1, timerSlackUs: 1.5 }), { name: 'TypeError', message: /options\.timerSlackUs/ })
})

t.test('on a thread other than the main one it sets nothing and says so (the file is the main thread\'s)', { skip: !existsSync(SLACK_FILE) && 'not Linux' }, async (t) => {
  const before = slackNs()
  const url = new URL('../runner/process/timer-slack.js', import.meta.url).href
  const worker = new Worker(`import(${JSON.stringify(url)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.setTimerSlack(3000)))`, { eval: true })
  const [answer] = await Promise.all([new Promise((resolve) => worker.once('message', resolve)), new Promise((resolve) => worker.once('exit', resolve))])
  t.equal(answer, false)
  t.equal(slackNs(), before, 'the main thread keeps its slack')
})
