export { AuthService, generateToken, hashToken, requirePermission, requireRole } from './auth.service.js'
export { ChangeFeed, type ChangeListener, type ScriptChange } from './change-feed.js'
export { ScriptService, sourceHash, type ScriptServiceOptions, type ScriptView, type SourceChecker } from './script.service.js'
export { TenantService } from './tenant.service.js'
