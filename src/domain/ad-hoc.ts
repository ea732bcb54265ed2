import { z } from 'zod'

/** The script id ad-hoc runs are recorded under (no script has it): `GET /executions?scriptId=` finds them. */
export const AD_HOC_SCRIPT_ID = '00000000-0000-0000-0000-000000000000'

/** Names the wrapper gives the code: a global may not take them. */
const TAKEN = new Set(['input', 'env', 'ctx', 'arguments', 'eval', 'await', 'yield', 'let', 'static', 'implements', 'interface', 'package', 'private', 'protected', 'public',
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export', 'extends', 'false', 'finally', 'for', 'function',
  'if', 'import', 'in', 'instanceof', 'new', 'null', 'return', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with'])

const identifier = z
  .string()
  .regex(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/, 'must be a JavaScript identifier')
  .refine((name) => !TAKEN.has(name), 'is a reserved word or a name the code already has (input, env, ctx)')

const limits = z
  .object({
    timeoutMs: z.number().int().min(1),
    cpuMs: z.number().int().min(1),
    memoryMb: z.number().int().min(8),
    apiCalls: z.number().int().min(0),
    outputBytes: z.number().int().min(1),
  })
  .partial()
  .strict()

/**
 * `POST /execute` (and each frame of its WebSocket): code run once in a fresh context of the
 * tenant's isolate. The code is the body of an async function with `input`, `env` (empty), `ctx`
 * and each of `globals` in scope: `return` gives the value; with `call`, the function of that name
 * the code declares is called with `(input, env, ctx)` after it ran, and its result is the value.
 * `limits` may only lower the tenant's defaults.
 */
export const executeInput = z
  .object({
    code: z.string().min(1),
    input: z.json().optional(),
    globals: z.record(identifier, z.json()).default({}),
    call: identifier.optional(),
    limits: limits.default({}),
  })
  .strict()

export type ExecuteInput = z.infer<typeof executeInput>

/** A WebSocket frame of `/execute`: the same, with the id its answer carries. */
export const executeFrame = z.object({ id: z.union([z.string().min(1).max(200), z.number()]) }).passthrough()

/** What an ad-hoc run answers. */
export interface ExecuteAnswer {
  /** The execution id (recorded as a manual run). */
  id: string
  value: unknown
  console: Array<{ level: string; message: string }>
  timeMs: number
  error: { code: string; message: string; line: number | null; column: number | null; stack?: string | undefined } | null
}
