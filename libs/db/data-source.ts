import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { ENTITIES } from './entities/index.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';

export interface DatabaseOptions {
  /** null: embedded PGlite under dataDir. */
  databaseUrl: string | null;
  dataDir: string;
  poolSize?: number;
}

export interface Database {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 7_301_946_105;

/** Opens the only DataSource of the process and brings the schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let embedded: EmbeddedPostgres | null = null;
  if (options.databaseUrl === null) embedded = await startEmbeddedPostgres(options.dataDir);
  const dataSource = new DataSource({
    type: 'postgres',
    url: embedded?.url ?? options.databaseUrl!,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    extra: { max: embedded ? 1 : (options.poolSize ?? 20), connectionTimeoutMillis: 10_000 },
  });
  try {
    await dataSource.initialize();
    await migrate(dataSource, embedded !== null);
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw err;
  }
  return {
    dataSource,
    embedded: embedded !== null,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

/** Runs pending migrations; processes booting together take turns through an advisory lock. */
async function migrate(dataSource: DataSource, single: boolean): Promise<void> {
  if (single) {
    await dataSource.runMigrations({ transaction: 'all' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
