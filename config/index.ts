import { ConfigError } from './errors.js'
import { settings, type Config, type SettingKey } from './schema.js'

export { ConfigError, CONFIG_ERROR_CODES } from './errors.js'
export { settings, type Config, type SettingKey } from './schema.js'

export type ConfigOverrides = { -readonly [K in keyof Config]?: Config[K] }

/**
 * Parses the process configuration once, in one visible order: explicit overrides, then the
 * environment, then the defaults. Every value is validated; the result is frozen.
 * This is the only place in isogate that reads `process.env`.
 *
 * @example
 * const config = loadConfig({ port: 0 })          // explicit beats PORT from the environment
 * const fromEnv = loadConfig({}, { PORT: '9090' }) // an explicit environment, for tests
 */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const config: Record<string, unknown> = {}
  for (const key of Object.keys(settings) as SettingKey[]) {
    const spec = settings[key]
    const explicit = overrides[key]
    const raw = explicit !== undefined ? explicit : nonEmpty(env[spec.env])
    if (raw === undefined) {
      config[key] = spec.default
      continue
    }
    const parsed = spec.schema.safeParse(raw)
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => issue.message).join('; ')
      throw new ConfigError(key, spec.env, `${reason} (got ${JSON.stringify(raw)})`)
    }
    config[key] = parsed.data
  }
  return Object.freeze(config) as Config
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
