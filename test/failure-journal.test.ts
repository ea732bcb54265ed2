import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import { FailureJournal } from '../src/services/failure-journal.js'
import { tempFolder } from './helpers/temp.js'

const logger = pino({ level: 'silent' })

function folder(t: Test): string {
  return tempFolder(t, 'isogate-journal-test-')
}

t.test('a record is in its file when append returns: the answer written right after it cannot overtake it', async (t) => {
  const dir = folder(t)
  const journal = new FailureJournal({ dir, logger })
  t.teardown(() => journal.close())
  const segment = journal.append('{"id":"a"}')
  // No await between: a process killed now, after the answer it writes next, leaves this line behind.
  t.equal(readFileSync(segment.file, 'utf8'), '{"id":"a"}\n')
  journal.append('{"id":"b"}')
  t.equal(readFileSync(segment.file, 'utf8'), '{"id":"a"}\n{"id":"b"}\n', 'each append, at once')
})

t.test('a sealed segment goes once its records are settled; a gone process\'s segment is a leftover, a cut line skipped', async (t) => {
  const dir = folder(t)
  const journal = new FailureJournal({ dir, logger })
  const segment = journal.append('{"id":"a"}')
  journal.rotate()
  t.same(readdirSync(dir), [path.basename(segment.file)], 'sealed, not settled: kept')
  journal.settle(segment, 1)
  t.same(readdirSync(dir), [], 'settled: deleted')
  journal.close()
  // A process id no process has (pid_max is at most 2^22).
  writeFileSync(path.join(dir, 'failures-99999999-1-0.jsonl'), '{"id":"x"}\n{"id":"y"}\n{"id":')
  t.same(FailureJournal.leftovers(dir).rows, ['{"id":"x"}', '{"id":"y"}'])
})
