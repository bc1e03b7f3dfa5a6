// Persistence: the only DataSource (PostgreSQL, or embedded PGlite when DATABASE_URL is unset),
// the TypeORM entities and the migrations they are built by.
export * from './data-source.js';
export * from './db.module.js';
export * from './entities/index.js';
export * from './errors.js';
export * from './promotion-insert.js';
export { embeddedDatabaseHolder, embeddedDatabaseInUse } from './embedded-postgres.js';
