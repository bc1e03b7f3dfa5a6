import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type Database } from '#libs/db/index.js';

export interface FreshDatabase {
  url: string;
  db: Database;
  drop(): Promise<void>;
}

/** A new PostgreSQL database with the real migrations applied, dropped by `drop()`. */
export async function freshDatabase(): Promise<FreshDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `promoter_test_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase({ databaseUrl: url.toString(), dataDir: '/nonexistent', poolSize: 4 });
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
