/** A setting failed validation at boot. The message names the setting and its variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code = 'CONFIG_INVALID'
  readonly setting: string

  constructor(setting: string, env: string, reason: string) {
    super(`invalid setting ${setting} (${env}): ${reason}`)
    this.setting = setting
  }
}
