import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { CliError } from './errors.js'

export const PROJECT_FILE = 'isogate.json'

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are identifiers')

/** isogate.json: what `deploy` and `dev` need besides the code. Secrets are never in it (`isogate secret put`). */
export const projectSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().trim().min(1).max(100),
    main: z.string().min(1).default('src/index.ts'),
    type: z.enum(['http', 'scheduled', 'event', 'oneoff', 'embedded']).default('http'),
    route: z.object({ path: z.string().startsWith('/'), methods: z.array(z.string()).min(1).default(['GET']) }).strict().optional(),
    cron: z.object({ expression: z.string().min(1), timezone: z.string().min(1).default('UTC') }).strict().optional(),
    events: z.array(z.string().min(1)).min(1).optional(),
    limits: z
      .object({ timeoutMs: z.number().int(), cpuMs: z.number().int(), memoryMb: z.number().int(), apiCalls: z.number().int(), outputBytes: z.number().int() })
      .partial()
      .strict()
      .optional(),
    env: z.record(identifier, z.string()).optional(),
  })
  .strict()

export type Project = z.infer<typeof projectSchema> & { root: string; file: string }

/** The project file in `from` or the nearest parent folder that has one. */
export function findProject(from: string): string | null {
  let dir = path.resolve(from)
  for (;;) {
    const file = path.join(dir, PROJECT_FILE)
    if (existsSync(file)) return file
    const parent = path.dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

export function loadProject(from: string): Project {
  const file = findProject(from)
  if (file === null) throw new CliError('PROJECT_NOT_FOUND')
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new CliError('PROJECT_INVALID', `${file}: ${(error as Error).message}`)
  }
  if (raw !== null && typeof raw === 'object' && 'secrets' in raw) {
    throw new CliError('PROJECT_INVALID', `${file}: secrets are never kept in the project file; use \`isogate secret put <script> NAME\``)
  }
  const parsed = projectSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new CliError('PROJECT_INVALID', `${file}: ${issue?.path.join('.') || '(top)'}: ${issue?.message}`, {
      details: { fields: parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) },
    })
  }
  return { ...parsed.data, root: path.dirname(file), file }
}

/** The script's metadata as the API takes it (JSON body of a create or a PATCH). */
export function scriptMetadata(project: Project): Record<string, unknown> {
  const body: Record<string, unknown> = { type: project.type }
  if (project.route !== undefined) body.http = { path: project.route.path, methods: project.route.methods.map((m) => m.toUpperCase()) }
  if (project.cron !== undefined) body.cron = project.cron
  if (project.events !== undefined) body.events = { types: project.events }
  body.limits = project.limits ?? {}
  body.env = project.env ?? {}
  return body
}
