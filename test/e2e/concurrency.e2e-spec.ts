import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReconcilerService } from '#libs/workflow/index.js';
import { devImage, eventually, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('50 concurrent approvals', () => {
  let t: TestApp;
  let ci: string;
  const managers: string[] = [];
  beforeAll(async () => {
    t = await startTestApp();
    ci = await t.token('ci', ['ci']);
    for (let i = 0; i < 50; i++) managers.push(await t.token(`manager-${i}`, ['release-manager']));
  });
  afterAll(() => t?.close());

  it('from 50 managers: two count, the promotion moves to approved exactly once', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('hot'), target: 'staging' });
    const id = created.body.id;
    const answers = await Promise.all(
      managers.map((m) => t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(m)).send({ decision: 'approve' })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(48);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.details.code === 'not_awaiting_approval')).toBe(true);
    const { rows: approvals } = await t.db.query('SELECT approver_id FROM approvals WHERE promotion_id = $1', [id]);
    expect(approvals).toHaveLength(2);
    expect(new Set(approvals.map((r) => r.approver_id)).size).toBe(2);
    const { rows: moves } = await t.db.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE subject = $1 AND action = 'promotion.approved'`,
      [`promotion:${id}`],
    );
    expect(moves[0].n).toBe(1);
    // Approved once; the copy that follows is not this test's concern.
    expect(['approved', 'promoting', 'promoted', 'failed']).toContain(
      (await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci))).body.status,
    );
  });

  it('from one manager 50 times: counted once, the promotion keeps waiting', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('same'), target: 'staging' });
    const id = created.body.id;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(managers[0]!)).send({ decision: 'approve' }),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.details.code === 'duplicate_decision')).toBe(true);
    const fetched = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
    expect(fetched.body).toMatchObject({ status: 'awaiting_approval', approval: { needed: 1 } });
    expect(fetched.body.approvals).toHaveLength(1);
  });
});

describe('expiry', () => {
  let t: TestApp;
  let ci: string;
  let rm1: string;
  let rm2: string;
  beforeAll(async () => {
    t = await startTestApp();
    ci = await t.token('ci', ['ci']);
    rm1 = await t.token('rm1', ['release-manager']);
    rm2 = await t.token('rm2', ['release-manager']);
  });
  afterAll(() => t?.close());

  it('stops counting an approval older than expiresAfter', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('slow'), target: 'quick' });
    expect(created.body.targetRepository).toBe('registry.example.com/quick/slow');
    const id = created.body.id;
    await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm1)).send({ decision: 'approve' }).expect(201);
    await new Promise((r) => setTimeout(r, 1_100));
    const second = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm2)).send({ decision: 'approve' });
    expect(second.body).toMatchObject({ status: 'awaiting_approval', approval: { needed: 1, expired: 1 } });
    expect(second.body.approvals.map((a: { counts: boolean }) => a.counts)).toEqual([false, true]);
    // An expired approval may be given again.
    const renewed = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm1)).send({ decision: 'approve' });
    expect(renewed.body.status).toBe('approved');
  });

  it('expires a promotion that waited for approval longer than the timeout', async () => {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('stale'), target: 'quick' });
    expect(created.body.expiresAt).not.toBeNull();
    const reconciler = t.app.get(ReconcilerService);
    expect((await reconciler.run()).expired).toBe(0);
    await new Promise((r) => setTimeout(r, Date.parse(created.body.expiresAt) - Date.now() + 50));
    expect((await reconciler.run()).expired).toBe(1);
    const fetched = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
    expect(fetched.body.status).toBe('expired');
    const late = await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(rm1)).send({ decision: 'approve' });
    expect(late.status).toBe(409);
  });
});

describe('a flushed Redis', () => {
  it('loses no promotion: the reconciler queues the owed gate work again from PostgreSQL', async () => {
    // An API with no worker takes the request; its gate jobs are then wiped from Redis.
    const api = await startTestApp({ worker: false });
    try {
      const ci = await api.token('ci', ['ci']);
      const created = await api
        .api()
        .post('/api/v1/promotions')
        .set(auth(ci))
        .send({ image: await devImage('lost'), target: 'gated' });
      expect(created.status).toBe(202);
      const prefix = api.config.process.redisPrefix;
      const wipe = async () => {
        const keys = await api.redis.keys(`${prefix}:*`);
        if (keys.length > 0) await api.redis.del(...keys);
        expect(await api.redis.keys(`${prefix}:*`)).toEqual([]);
      };
      expect((await api.redis.keys(`${prefix}:scan:*`)).length).toBeGreaterThan(0);
      await wipe();

      const report = await api.app.get(ReconcilerService).run();
      // The scan gate is queued again; the policy gate waits for it, as it did the first time.
      expect(report.requeued).toBe(1);
      expect((await api.redis.keys(`${prefix}:scan:*`)).length).toBeGreaterThan(0);
      expect(await api.redis.keys(`${prefix}:policy:*`)).toEqual([]);
      await wipe();

      // A worker starting against the wiped Redis reconciles at once and does the owed work.
      const worker = await startTestApp({ worker: true, shareWith: api });
      try {
        const blocked = await eventually(async () => {
          const res = await api.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
          return res.body.gates.every((g: { status: string }) => ['passed', 'failed', 'error'].includes(g.status)) && res.body;
        });
        // Both owed gates ran to a verdict (what it is depends on the tiny image, not on this test).
        expect(blocked.gates).toHaveLength(2);
        expect((await worker.app.get(ReconcilerService).run()).requeued).toBe(0);
      } finally {
        await worker.close();
      }
    } finally {
      await api.close();
    }
  });
});

describe('a promotion left blocked', () => {
  it('expires after the environment timeout and frees its digest for a new request', async () => {
    const pipeline =
      testPipeline() +
      `
  - name: fragile
    from: dev
    repository: local/fragile/{app}
    gates: { policy: { rules: [non-root] } }
    approvals: { required: 1, roles: [release-manager], timeout: 1s }
`;
    const failing = async () => ({ status: 'failed' as const, summary: 'runs as root', evidence: { rule: 'non-root' } });
    const t = await startTestApp({ pipeline, gateHandlers: { policy: failing } });
    try {
      const ci = await t.token('ci', ['ci']);
      const image = await devImage('leftover');
      const created = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image, target: 'fragile' });
      const id = created.body.id;
      const blocked = await eventually(async () => {
        const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
        return res.body.status === 'blocked' && res.body;
      });
      expect(blocked.expiresAt).not.toBeNull();
      // While blocked it holds the digest's place in the environment.
      expect((await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image, target: 'fragile' })).status).toBe(409);

      const reconciler = t.app.get(ReconcilerService);
      expect((await reconciler.run()).expired).toBe(0);
      await new Promise((r) => setTimeout(r, Date.parse(blocked.expiresAt) - Date.now() + 50));
      expect((await reconciler.run()).expired).toBe(1);
      const fetched = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
      expect(fetched.body.status).toBe('expired');
      const { rows } = await t.db.query(`SELECT actor, data FROM audit_events WHERE subject = $1 AND action = 'promotion.expired'`, [
        `promotion:${id}`,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0].actor).toBe('system:reconciler');
      // An expired promotion is over: the same digest may be requested again.
      expect((await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image, target: 'fragile' })).status).toBe(202);
    } finally {
      await t.close();
    }
  });
});
