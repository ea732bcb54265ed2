/**
 * V8 flags of a runner process, for its tenant isolates (V8 flags are per process: they apply to
 * the runner's own threads too). Both trade a little speed in a function's or a regular
 * expression's first uses for memory in every warm isolate, most of which serve few requests:
 *
 * - A function gets its feedback vector (and with it Sparkplug code, whose first use commits a
 *   256 KiB code page per isolate) after 16 times its bytecode size of interrupt budget instead
 *   of 8.
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
 * Tried and left out (session 23): `--no-sparkplug`. In a busy runner's many isolates the
 * platform's code is met cold, and bytecode cost less there than baseline code: 300 tenants of
 * hello spread served 1.13x the requests at 0.88x the CPU, 1,000 tenants 1.08x at 0.91x, 2-9% less
 * RSS. But a victim beside a neighbour making 100 host calls a run had a p99 2-3x its p99 with
 * Sparkplug (47-65 against 15-22 ms, 4 same-run rounds). A feedback factor of 8 or 4: 5-7% less
 * CPU a run with 300 tenants in one thread, for more memory in each warm isolate (the warm
 * tenants' RSS target is at its limit at 16).
 */
export const RUNNER_V8_FLAGS: readonly string[] = ['--interrupt-budget-factor-for-feedback-allocation=16', '--regexp-tier-up-ticks=20']
