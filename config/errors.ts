import { errorCatalogue, IsogateError } from '../runner/isogate-error.js'

/** Errors of configuration: they stop the boot, they never reach HTTP. */
export const CONFIG_ERROR_CODES = errorCatalogue({
  CONFIG_INVALID: { status: null, message: 'A setting failed validation' },
})

/** A setting failed validation at boot. The message names the setting and its variable. */
export class ConfigError extends IsogateError<'CONFIG_INVALID'> {
  override readonly name = 'ConfigError'
  readonly setting: string

  constructor(setting: string, env: string, reason: string) {
    super(CONFIG_ERROR_CODES, 'CONFIG_INVALID', `invalid setting ${setting} (${env}): ${reason}`)
    this.setting = setting
  }
}
