/**
 * V8 flags of a runner process, for its tenant isolates (V8 flags are per process: they apply to
 * the runner's own threads too). Both trade a little speed in a function's or a regular
 * expression's first uses for memory in every warm isolate, most of which serve few requests:
 *
 * - A function gets its feedback vector (and with it Sparkplug code, whose first use commits a
 *   256 KiB code page per isolate) after 64 times its bytecode size of interrupt budget instead
 *   of 8: after some tens of calls rather than a few.
 * - A regular expression is interpreted for its first 20 runs, not 1, before it is compiled to
 *   machine code (a code page again).
 *
 * Measured (bench/runner-bench.ts, 1000 warm tenants of the typical script): 1.60 -> 1.54 MiB
 * per tenant.
 */
export const RUNNER_V8_FLAGS: readonly string[] = ['--interrupt-budget-factor-for-feedback-allocation=64', '--regexp-tier-up-ticks=20']
