import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { devImage, testPipeline } from '../helpers/test-app.js';
import { freePort, run, waitReady, type Running } from '../helpers/process.js';

// These start the built service (`npm test` builds first), as `npm start` and the images do.
const ALL_IN_ONE = 'dist/apps/api/src/all-in-one.js';
const API = 'dist/apps/api/src/main.js';
const WORKER = 'dist/apps/worker/src/main.js';

const dir = mkdtempSync(join(tmpdir(), 'promoter-process-'));
const pipelinePath = join(dir, 'promoter.yaml');
writeFileSync(pipelinePath, testPipeline());
const bootstrap = `bootstrap-${randomBytes(12).toString('hex')}`;
const started: Running[] = [];
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()));
});

function env(extra: Record<string, string>): Record<string, string> {
  return {
    PROMOTER_CONFIG: pipelinePath,
    PROMOTER_BOOTSTRAP_TOKEN: bootstrap,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `proc-${inject('runId')}-${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function call(base: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers of several shapes
  return { status: res.status, body: (await res.json()) as any };
}

describe('starting the service', () => {
  it('stops with a message naming the key when the pipeline file is wrong', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, testPipeline().replace('from: dev\n    repository: local/staging', 'from: dve\n    repository: local/staging'));
    const proc = run(ALL_IN_ONE, env({ PROMOTER_CONFIG: bad, PORT: String(await freePort()) }));
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain(`configuration error in ${bad}: environments[1].from: unknown environment 'dve'`);

    const missing = run(ALL_IN_ONE, env({ PROMOTER_CONFIG: join(dir, 'nope.yaml') }));
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toContain('cannot read the pipeline file (ENOENT)');

    const badEnv = run(ALL_IN_ONE, env({ PORT: 'eighty' }));
    expect(await badEnv.exited).toBe(1);
    expect(badEnv.output()).toContain('configuration error in environment: PORT');

    // Separate processes cannot share the embedded database.
    const apart = run(WORKER, env({}));
    expect(await apart.exited).toBe(1);
    expect(apart.output()).toContain('running the worker on its own needs DATABASE_URL');
  });

  it('keeps its data in embedded PostgreSQL when DATABASE_URL is unset, across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'promoter-data-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const e = env({ PORT: String(port), HOST: '127.0.0.1', PROMOTER_DATA_DIR: dataDir });
    const first = run(ALL_IN_ONE, e);
    started.push(first);
    await waitReady(base, first, 60_000);
    const token = await call(base, 'POST', '/api/v1/tokens', bootstrap, { name: 'ci', roles: ['ci'] });
    expect(token.status).toBe(201);
    const created = await call(base, 'POST', '/api/v1/promotions', token.body.token, {
      image: await devImage('embedded'),
      target: 'staging',
    });
    expect(created.status).toBe(202);
    expect(await first.stop()).toBe(0);

    const second = run(ALL_IN_ONE, e);
    started.push(second);
    await waitReady(base, second, 60_000);
    const fetched = await call(base, 'GET', `/api/v1/promotions/${created.body.id}`, token.body.token);
    expect(fetched.status).toBe(200);
    expect(fetched.body.status).toBe('awaiting_approval');

    // A second start on the same data says so in one line, before its own start-up.
    const again = run(ALL_IN_ONE, { ...e, PORT: String(await freePort()) });
    expect(await again.exited).toBe(1);
    expect(again.output().trim().split('\n')).toEqual([
      `image-promoter: the embedded database in ${join(dataDir, 'pglite')} is in use by process ${second.child.pid}; stop that process first, or set DATABASE_URL to a PostgreSQL server that both can share`,
    ]);

    // While it runs, nothing else may open the same embedded database (its writes would be lost).
    const migrate = run('dist/libs/db/migrate.js', e);
    expect(await migrate.exited).toBe(1);
    expect(migrate.output()).toContain(`is in use by process ${second.child.pid}`);
    expect(await second.stop()).toBe(0);
    expect(second.output()).toContain('image-promoter: stopping on SIGTERM; no work in flight');
    // Once it has stopped, the database is free again.
    const after = run('dist/libs/db/migrate.js', e);
    expect(await after.exited).toBe(0);
    expect(after.output()).toContain('schema up to date');
  });

  it('refuses a port already in use in one line, for the API and the worker probe port alike', async () => {
    const holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as AddressInfo).port;
    try {
      const proc = run(
        ALL_IN_ONE,
        env({ PORT: String(port), HOST: '127.0.0.1', PROMOTER_DATA_DIR: mkdtempSync(join(tmpdir(), 'promoter-port-')) }),
      );
      expect(await proc.exited).toBe(1);
      expect(proc.output().trim().split('\n')).toEqual([
        `image-promoter: port ${port} on 127.0.0.1 is already in use (is another image-promoter running?); stop what holds it, or set PORT to a free port`,
      ]);
      const worker = run(WORKER, env({ WORKER_HEALTH_PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: 'postgres://127.0.0.1:1/none' }));
      expect(await worker.exited).toBe(1);
      expect(worker.output()).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(worker.output()).toContain('set WORKER_HEALTH_PORT to a free port');
    } finally {
      holder.close();
    }
  });

  it('runs API and worker as separate processes against one database and Redis', async () => {
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    const name = `promoter_proc_${inject('runId')}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(inject('adminDatabaseUrl'));
      url.pathname = `/${name}`;
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const e = env({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: url.toString() });
      const workerBase = `http://127.0.0.1:${await freePort()}`;
      const api = run(API, e);
      const worker = run(WORKER, { ...e, WORKER_HEALTH_PORT: new URL(workerBase).port });
      started.push(api, worker);
      await waitReady(base, api);
      await waitReady(workerBase, worker);
      const token = await call(base, 'POST', '/api/v1/tokens', bootstrap, { name: 'ci', roles: ['ci'] });
      const created = await call(base, 'POST', '/api/v1/promotions', token.body.token, { image: await devImage('split'), target: 'gated' });
      expect(created.status).toBe(202);
      let status = created.body.status;
      for (let i = 0; i < 100 && status !== 'blocked'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await call(base, 'GET', `/api/v1/promotions/${created.body.id}`, token.body.token)).body.status;
      }
      expect(status).toBe('blocked');

      // The worker's probe port: liveness, readiness, metrics behind a token, and nothing of the API.
      expect((await fetch(`${workerBase}/healthz`)).status).toBe(200);
      const ready = await fetch(`${workerBase}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
      expect((await fetch(`${workerBase}/metrics`)).status).toBe(401);
      const metrics = await fetch(`${workerBase}/metrics`, { headers: { authorization: `Bearer ${token.body.token}` } });
      expect(metrics.status).toBe(200);
      // The gates ran in this process, so its registry has their results.
      expect(await metrics.text()).toMatch(/promoter_gate_results_total\{[^}]*gate="scan"/);
      expect((await call(workerBase, 'GET', '/api/v1/promotions', token.body.token)).status).toBe(404);
      expect(await api.stop()).toBe(0);
      expect(await worker.stop()).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('starts with the pipeline file shipped at the repository root, as the quick start does', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'promoter-shipped-'));
    const proc = run(
      ALL_IN_ONE,
      env({ PROMOTER_CONFIG: join(process.cwd(), 'promoter.yaml'), PORT: String(port), HOST: '127.0.0.1', PROMOTER_DATA_DIR: data }),
    );
    started.push(proc);
    // Every file its gates name is read at start: a missing one would stop the process here.
    await waitReady(`http://127.0.0.1:${port}`, proc, 60_000);
    const environments = await call(`http://127.0.0.1:${port}`, 'GET', '/api/v1/environments', bootstrap);
    expect(environments.status).toBe(200);
    expect(environments.body.map((e: { name: string }) => e.name)).toEqual(['dev', 'staging', 'prod']);
    expect(await proc.stop()).toBe(0);
  });

  it('opens the signing key only in processes that run the worker', async () => {
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    const name = `promoter_key_${inject('runId')}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(inject('adminDatabaseUrl'));
      url.pathname = `/${name}`;
      const keyed = join(dir, 'keyed.yaml');
      writeFileSync(keyed, testPipeline() + `signing:\n  key: { path: ${join(dir, 'no-such-cosign.key')} }\n`);
      const port = await freePort();
      const e = env({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: url.toString(), PROMOTER_CONFIG: keyed });
      // The API never signs: it starts without the key.
      const api = run(API, e);
      started.push(api);
      await waitReady(`http://127.0.0.1:${port}`, api);
      // A worker cannot do its job without it, and says which key it could not open.
      const worker = run(WORKER, e);
      expect(await worker.exited).toBe(1);
      expect(worker.output()).toContain('signing.key');
      expect(worker.output()).toContain('no-such-cosign.key');
      expect(await api.stop()).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
