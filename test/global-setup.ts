import pg from 'pg';
import type { TestProject } from 'vitest/node';

/**
 * End-to-end tests need a real PostgreSQL and a real Redis. Each test app creates its own fresh
 * database (dropped afterwards) and its own Redis key prefix; this checks both are reachable first.
 */
export default async function setup(project: TestProject): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`end-to-end tests need PostgreSQL at ${adminUrl} (set TEST_DATABASE_URL): ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('runId', `${Date.now().toString(36)}${process.pid.toString(36)}`);
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    redisUrl: string;
    runId: string;
  }
}
