/**
 * V8 flags of a runner process, for its tenant isolates (V8 flags are per process: they apply to
 * the runner's own threads too). The first two trade a little speed in a function's or a regular
 * expression's first uses for memory in every warm isolate, most of which serve few requests:
 *
 * - A function gets its feedback vector after 16 times its bytecode size of interrupt budget
 *   instead of 8 (with Sparkplug, the baseline code that came with it committed a 256 KiB code
 *   page per isolate).
 * - A regular expression is interpreted for its first 20 runs, not 1, before it is compiled to
 *   machine code (a code page again).
 *
 * Measured (bench/runner-bench.ts, 1000 warm tenants of the typical script, two runs each): 1.49
 * MiB a tenant with V8's 8, 1.46 with 16, 24, 32 or 64 alike (1,551 MiB in all against 1,520).
 * A factor of 64 (until session 20) kept busy tenants' code in the interpreter, without
 * feedback, for tens of runs more: with 500 tenants of hello on one IsolateHost in one thread
 * (100 runs each first) a run cost 231 us of CPU at 64 against 178 at 16 (medians of 3); through
 * the whole server, 1,000 tenants with 100 connections spread over them served 1.06-1.15x the
 * requests at 0.90-0.95x the CPU a request, with 3-5% more RSS (same-run A/B, 3 rounds).
 *
 * - No Sparkplug (V8's baseline compiler): a function runs in the interpreter, with feedback,
 *   until TurboFan optimizes it. In most isolates of a busy runner the platform's code never gets
 *   that hot, and every run meets it cold, out of the CPU caches: there the interpreter's compact
 *   bytecode costs less than baseline code several times its size. A tenant's own hot code, and
 *   the threads' own, still get TurboFan. Measured: 300 tenants of hello in one thread (3,000 runs
 *   a round, 5 rounds, twice) 124-135 us a run against 129-144; through the whole server (same-run
 *   A/B, 100 connections spread) 300 tenants 1.13x the requests at 0.88x the CPU a request (6
 *   rounds), 1,000 tenants 1.08x at 0.91x (8 rounds, 6 won); one tenant's hello and ctx.cache
 *   alike (6 rounds each).
 */
export const RUNNER_V8_FLAGS: readonly string[] = ['--interrupt-budget-factor-for-feedback-allocation=16', '--regexp-tier-up-ticks=20', '--no-sparkplug']
