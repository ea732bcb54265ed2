import { GATEWAY_ERROR_CODES } from '../../../gateway/index.js'
import { HTTP_ERROR_CODES, RUNNER_ERROR_CODES } from '../../../runner/index.js'
import { EGRESS_ERROR_CODES } from '../../host/index.js'
import { AUDIT_ACTIONS } from '../../domain/audit.js'
import { ROLES } from '../../domain/auth.js'
import { EXECUTION_STATUSES, TRIGGERS } from '../../domain/execution.js'
import { SCRIPT_STATUSES, SCRIPT_TYPES } from '../../domain/script.js'
import { ERROR_CODES } from '../../errors.js'

/**
 * The values the console translates under `enum.{family}.{value}`: every value the domain
 * defines must have a label in every catalogue (test/console-i18n.test.ts), so a new status or
 * error code fails that test until it is translated.
 */
export const TRANSLATED_ENUMS: Readonly<Record<string, readonly string[]>> = {
  type: SCRIPT_TYPES,
  status: SCRIPT_STATUSES,
  execution: EXECUTION_STATUSES,
  trigger: TRIGGERS,
  role: ROLES,
  audit: AUDIT_ACTIONS,
  code: [...new Set([...Object.keys(HTTP_ERROR_CODES), ...Object.keys(RUNNER_ERROR_CODES), ...Object.keys(ERROR_CODES), ...Object.keys(GATEWAY_ERROR_CODES), ...Object.keys(EGRESS_ERROR_CODES)])],
}
