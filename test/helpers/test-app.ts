import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import request from 'supertest';
import { inject } from 'vitest';
import { createHttpApp, createWorkerContext } from '../../apps/api/src/app.js';
import { loadConfig, type AppConfig } from '#libs/config/index.js';
import type { Role } from '#libs/domain/index.js';
import type { GateHandlers } from '#libs/workflow/index.js';
import { pushBlob, pushManifest, randomLayer } from './images.js';

/** The e2e run's registry (a real docker-registry started by the global setup): host:port. */
export function registryHost(): string {
  return inject('registryHost');
}

/**
 * The start most test pipelines share: the run's real registry as `local` and `dev` as the entry.
 * Append the environments a test needs (`  - name: …` lines).
 */
export function localPipeline(): string {
  return `
registries:
  - name: local
    url: http://${registryHost()}
environments:
  - name: dev
    repository: local/dev/{app}
`;
}

/** The pipeline most tests run with; `local` is the run's real registry. */
export function testPipeline(): string {
  return TEST_PIPELINE.replaceAll('http://127.0.0.1:5000', `http://${registryHost()}`);
}

const TEST_PIPELINE = `
registries:
  - name: local
    url: http://127.0.0.1:5000
  - name: other
    url: https://registry.example.com
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
    approvals: { required: 2, roles: [release-manager], expiresAfter: 24h }
  - name: prod
    from: staging
    repository: local/prod/{app}
    approvals: { required: 1, roles: [release-manager] }
    reviews: [security]
  - name: quick
    from: dev
    repository: other/quick/{app}
    approvals: { required: 2, roles: [release-manager], expiresAfter: 1s, timeout: 3s }
  - name: gated
    from: dev
    repository: local/gated/{app}
    gates: { scan: { failOn: critical }, policy: { rules: [non-root] } }
    approvals: { required: 2, roles: [release-manager] }
  - name: open
    from: dev
    repository: local/open/{app}
`;

export interface TestAppOptions {
  pipeline?: string;
  worker?: boolean;
  gateHandlers?: GateHandlers;
  /** Reuse another app's database and Redis prefix (e.g. a worker joining an API). */
  shareWith?: TestApp;
  /** More environment for loadConfig, e.g. the registry credentials the pipeline names. */
  env?: Record<string, string>;
  /** Where the app logs (default: nowhere, or TEST_LOG_LEVEL). */
  pino?: Logger;
}

export interface TestApp {
  app: NestFastifyApplication | INestApplicationContext;
  http: NestFastifyApplication;
  config: AppConfig;
  db: pg.Pool;
  redis: Redis;
  databaseUrl: string;
  bootstrapToken: string;
  /** Creates an API token with these roles (through the API, as the bootstrap admin). */
  token(name: string, roles: Role[]): Promise<string>;
  api(): ReturnType<typeof request>;
  close(): Promise<void>;
}

export function digest(): string {
  return 'sha256:' + randomBytes(32).toString('hex');
}

/**
 * Pushes a tiny image of its own (one random 64-byte layer, so never the same digest twice) into
 * each of `repositories` of the run's registry and answers its digest: requests name images that exist.
 */
export async function pushTestImage(...repositories: string[]): Promise<string> {
  const reg = { url: `http://${registryHost()}` };
  const layer = randomLayer({ size: 64 });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
  const configDigest = 'sha256:' + createHash('sha256').update(config).digest('hex');
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [layer.descriptor],
    }),
  );
  let d = '';
  // The same bytes in each repository: one digest, as a promoted image has in every environment.
  for (const repository of repositories) {
    await pushBlob(reg, repository, layer.bytes);
    await pushBlob(reg, repository, config);
    d = 'sha256:' + createHash('sha256').update(manifest).digest('hex');
    await pushManifest(reg, repository, d, manifest, mediaType);
  }
  return d;
}

/** A reference in `local/dev/{app}` to an image the registry holds: `d` if given, else a new one. */
export async function devImage(app = 'web', d?: string): Promise<string> {
  return `${registryHost()}/dev/${app}@${d ?? (await pushTestImage(`dev/${app}`))}`;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const suffix = randomBytes(4).toString('hex');
  const runId = inject('runId');
  const owner = options.shareWith;
  let databaseUrl: string;
  let prefix: string;
  let admin: pg.Client | null = null;
  const dbName = `promoter_test_${runId}_${suffix}`;
  if (owner) {
    databaseUrl = owner.databaseUrl;
    prefix = owner.config.process.redisPrefix;
  } else {
    admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(inject('adminDatabaseUrl'));
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
    prefix = `test-${runId}-${suffix}`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'promoter-test-'));
  const configPath = join(dir, 'promoter.yaml');
  writeFileSync(configPath, options.pipeline ?? testPipeline());
  const bootstrapToken = owner?.bootstrapToken ?? `bootstrap-${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: prefix,
    PROMOTER_CONFIG: configPath,
    PROMOTER_BOOTSTRAP_TOKEN: bootstrapToken,
    LOG_LEVEL: 'silent',
    PROMOTER_RECONCILE_INTERVAL: '1h',
    ...options.env,
  });
  const parts = {
    config,
    redisUrl: inject('redisUrl'),
    api: true,
    worker: options.worker ?? true,
    gateHandlers: options.gateHandlers,
    pino: options.pino ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  };
  const app = options.worker === true && options.shareWith ? await createWorkerContext(parts) : await createHttpApp(parts);
  const http = app as NestFastifyApplication;
  if ('getHttpAdapter' in app) await http.getHttpAdapter().getInstance().ready();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });

  return {
    app,
    http,
    config,
    db,
    redis,
    databaseUrl,
    bootstrapToken,
    api: () => request(http.getHttpServer()),
    async token(name, roles) {
      const res = await request(http.getHttpServer())
        .post('/api/v1/tokens')
        .set('Authorization', `Bearer ${bootstrapToken}`)
        .send({ name, roles });
      if (res.status !== 201) throw new Error(`creating token ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    async close() {
      await app.close();
      await db.end();
      if (!owner) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
        // Connections close asynchronously; wait for them rather than cut them off mid-goodbye.
        for (let i = 0; i < 50; i++) {
          const { rows } = await admin!.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [dbName]);
          if (rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await admin!.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        await admin!.end();
      }
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until the check returns a value, or fails after the timeout. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
