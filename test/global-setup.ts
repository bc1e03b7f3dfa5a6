import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startRegistry } from './helpers/registry.js';

/**
 * End-to-end tests need a real PostgreSQL and a real Redis. Each test app creates its own fresh
 * database (dropped afterwards) and its own Redis key prefix; this checks both are reachable first.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`end-to-end tests need PostgreSQL at ${adminUrl} (set TEST_DATABASE_URL): ${(err as Error).message}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('runId', `${Date.now().toString(36)}${process.pid.toString(36)}`);
  // One real registry for the run: the pipelines' `local` registry, where tags are resolved.
  const registry = await startRegistry().catch((err: Error) => {
    throw new Error(`end-to-end tests need Debian's docker-registry (apt-get install docker-registry): ${err.message}`);
  });
  project.provide('registryHost', registry.host);
  return () => registry.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    redisUrl: string;
    runId: string;
    registryHost: string;
  }
}
