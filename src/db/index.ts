export { Database, type DatabaseOptions, type Sql, type Tx } from './database.js'
export { EmbeddedPostgres } from './embedded-postgres.js'
export { MIGRATIONS, migrate, type Migration } from './migrations.js'
export { DocumentRepository } from './document.repository.js'
