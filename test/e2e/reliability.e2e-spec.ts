import { getQueueToken } from '@nestjs/bullmq';
import { UnrecoverableError, Worker, type Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { JOBS, QUEUES } from '#libs/queue/index.js';
import { ReconcilerService } from '#libs/workflow/index.js';
import pg from 'pg';
import { devImage, eventually, startTestApp } from '../helpers/test-app.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('Redis loses its state', () => {
  it('every worker puts the reconciler schedule back after a flush, at the reconciler pace', async () => {
    const api = await startTestApp({ worker: false });
    try {
      const worker = await startTestApp({ worker: true, shareWith: api, env: { PROMOTER_RECONCILE_INTERVAL: '1s' } });
      try {
        const reconcile = worker.app.get<Queue>(getQueueToken(QUEUES.reconcile));
        expect(await reconcile.getJobScheduler(JOBS.reconcile)).toBeTruthy();
        const prefix = api.config.process.redisPrefix;
        const keys = await api.redis.keys(`${prefix}:*`);
        if (keys.length > 0) await api.redis.del(...keys);
        expect(await reconcile.getJobScheduler(JOBS.reconcile)).toBeFalsy();

        // No restart: the running worker notices the schedule is gone and creates it again.
        await eventually(async () => (await reconcile.getJobScheduler(JOBS.reconcile)) ?? false, 15_000);
        // And it runs the reconciler again.
        await eventually(async () => (await reconcile.getJobCounts('completed')).completed! > 0, 15_000);
      } finally {
        await worker.close();
      }
    } finally {
      await api.close();
    }
  });

  it('re-queueing replaces a failed gate job with the same id, and the report counts only what it queued', async () => {
    // The API takes the request with no worker; an outside worker fails the gate job while the
    // database could not record it (PostgreSQL down during the failure handler).
    const api = await startTestApp({ worker: false });
    const failer = new Worker(
      QUEUES.scan,
      async () => {
        throw new UnrecoverableError('PostgreSQL went away');
      },
      { connection: { url: inject('redisUrl'), maxRetriesPerRequest: null }, prefix: api.config.process.redisPrefix },
    );
    try {
      const ci = await api.token('ci', ['ci']);
      const created = await api
        .api()
        .post('/api/v1/promotions')
        .set(auth(ci))
        .send({ image: await devImage('failed-job'), target: 'gated' });
      expect(created.status).toBe(202);
      const scan = api.app.get<Queue>(getQueueToken(QUEUES.scan));
      const jobId = `scan-${created.body.id}-r1`;
      await eventually(async () => (await scan.getJob(jobId))?.isFailed(), 15_000);
      await failer.close();

      const reconciler = api.app.get(ReconcilerService);
      const first = await reconciler.run();
      expect(first.requeued).toBe(1);
      const job = await scan.getJob(jobId);
      expect(await job?.getState()).toBe('waiting');
      expect(job?.failedReason ?? '').toBe('');
      // Already waiting: nothing more is queued, and the report says so.
      expect((await reconciler.run()).requeued).toBe(0);
    } finally {
      await failer.close();
      await api.close();
    }
  });
});

describe('PostgreSQL down', () => {
  it('answers 503 with Retry-After and says which dependency, never 500; back to normal once it returns', async () => {
    // The app reaches PostgreSQL through a proxy the test can take down, like a stopped server.
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    const dbName = `promoter_test_${inject('runId')}_down_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    const real = new URL(inject('adminDatabaseUrl'));
    const proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const viaProxy = new URL(real);
    viaProxy.port = String(proxy.port);
    viaProxy.pathname = `/${dbName}`;
    const t = await startTestApp({ worker: false, env: { DATABASE_URL: viaProxy.toString() } });
    try {
      const ci = await t.token('ci', ['ci']);
      expect((await t.api().get('/api/v1/promotions').set(auth(ci))).status).toBe(200);

      await proxy.down();
      for (const res of [
        await t.api().get('/api/v1/promotions').set(auth(ci)),
        await t
          .api()
          .post('/api/v1/promotions')
          .set(auth(ci))
          .send({ image: await devImage('outage'), target: 'staging' }),
      ]) {
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('5');
        expect(res.body).toMatchObject({ statusCode: 503, details: { code: 'dependency_unavailable', dependency: 'PostgreSQL' } });
        expect(res.body.message).toContain('PostgreSQL is unreachable');
      }

      await proxy.up();
      await eventually(async () => (await t.api().get('/api/v1/promotions').set(auth(ci))).status === 200, 15_000);
    } finally {
      await proxy.up();
      await t.close();
      await proxy.close();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
  });
});
