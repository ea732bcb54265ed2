import { processIo } from './io.js'
import { runCli } from './program.js'

// The process entry of `isogate` (src/cli/isogate.mjs starts it): the real streams, folder and environment.
const io = processIo()
process.exitCode = await runCli(process.argv.slice(2), io)
