import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../helpers/images.js';
import { devImage, digest, pushTestImage, eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm1: string;
let rm2: string;
let auditor: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
  rm1 = await t.token('rm1', ['release-manager']);
  rm2 = await t.token('rm2', ['release-manager']);
  auditor = await t.token('auditor', ['auditor']);
});
afterAll(() => t?.close());

describe('GET /environments', () => {
  it('lists the pipeline and the digest now current in each environment', async () => {
    const d = await pushTestImage('dev/shop');
    const p = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('shop', d), target: 'staging' });
    await t.db.query(`UPDATE promotions SET status = 'promoted' WHERE id = $1`, [p.body.id]);
    const res = await t.api().get('/api/v1/environments').set(auth(ci));
    expect(res.status).toBe(200);
    expect(res.body.map((e: { name: string }) => e.name)).toEqual(['dev', 'staging', 'prod', 'quick', 'gated', 'open']);
    const [dev, staging, prod] = res.body;
    expect(dev).toMatchObject({ entry: true, from: null, current: [] });
    expect(staging).toMatchObject({
      from: 'dev',
      approvals: { required: 2, roles: ['release-manager'], expiresAfterMs: 86_400_000 },
      current: [{ app: 'shop', digest: d, repository: `${registryHost()}/staging/shop`, promotionId: p.body.id }],
    });
    expect(prod).toMatchObject({ from: 'staging', reviews: ['security'], current: [] });
    expect(Object.keys(res.body[4].gates).sort()).toEqual(['policy', 'scan']);
    expect(res.body[4].gates.scan).toMatchObject({ failOn: 'critical' });
    // The policy gate shows the rules in force, expanded, and their digest.
    expect(res.body[4].gates.policy).toEqual({
      policyDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      rules: [expect.objectContaining({ name: 'non-root', severity: 'deny', builtin: true, expression: expect.any(String) })],
    });
  });
});

describe('GET /promotions', () => {
  it('filters by status, target and image, newest first, with cursor pages', async () => {
    const d = await pushTestImage('dev/listq');
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(
        (
          await t
            .api()
            .post('/api/v1/promotions')
            .set(auth(ci))
            .send({ image: await devImage(`list${i}`), target: 'open' })
        ).body,
      );
    }
    expect(made.every((p) => p.status === 'approved')).toBe(true);
    const q = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('listq', d), target: 'quick' });

    const open = await t.api().get('/api/v1/promotions').query({ target: 'open', limit: 2 }).set(auth(auditor));
    expect(open.status).toBe(200);
    expect(open.body.items.map((p: { id: string }) => p.id)).toEqual([made[4].id, made[3].id]);
    const page2 = await t
      .api()
      .get('/api/v1/promotions')
      .query({ target: 'open', limit: 2, cursor: open.body.nextCursor })
      .set(auth(auditor));
    expect(page2.body.items.map((p: { id: string }) => p.id)).toEqual([made[2].id, made[1].id]);
    const page3 = await t
      .api()
      .get('/api/v1/promotions')
      .query({ target: 'open', limit: 2, cursor: page2.body.nextCursor })
      .set(auth(auditor));
    expect(page3.body.items.map((p: { id: string }) => p.id)).toEqual([made[0].id]);
    expect(page3.body.nextCursor).toBeNull();

    const byImage = await t.api().get('/api/v1/promotions').query({ image: d }).set(auth(ci));
    expect(byImage.body.items.map((p: { id: string }) => p.id)).toEqual([q.body.id]);
    const byRef = await t
      .api()
      .get('/api/v1/promotions')
      .query({ image: await devImage('listq', d) })
      .set(auth(ci));
    expect(byRef.body.items.map((p: { id: string }) => p.id)).toEqual([q.body.id]);
    const byStatus = await t.api().get('/api/v1/promotions').query({ status: 'awaiting_approval,approved', target: 'quick' }).set(auth(ci));
    expect(byStatus.body.items.map((p: { id: string }) => p.id)).toEqual([q.body.id]);
    const none = await t.api().get('/api/v1/promotions').query({ status: 'rejected', target: 'open' }).set(auth(ci));
    expect(none.body.items).toEqual([]);
  });
});

describe('GET /images/:digest/provenance', () => {
  it('tells every promotion of a digest with its gates, decisions and audit events, oldest first', async () => {
    const d = (await pushImage({ url: `http://${registryHost()}` }, 'dev/prov')).digest;
    const staging = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('prov', d), target: 'staging', reason: 'ship it' });
    await t.api().post(`/api/v1/promotions/${staging.body.id}/approvals`).set(auth(rm1)).send({ decision: 'approve', comment: 'ok' });
    await t.api().post(`/api/v1/promotions/${staging.body.id}/approvals`).set(auth(rm2)).send({ decision: 'approve' });
    await eventually(async () => (await t.api().get(`/api/v1/promotions/${staging.body.id}`).set(auth(ci))).body.status === 'promoted');
    const quick = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('prov', d), target: 'quick' });
    await t.api().post(`/api/v1/promotions/${quick.body.id}/cancel`).set(auth(ci)).send({ reason: 'wrong target' });

    const res = await t.api().get(`/api/v1/images/${d}/provenance`).set(auth(auditor));
    expect(res.status).toBe(200);
    expect(res.body.digest).toBe(d);
    expect(res.body.promotions.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([
      [staging.body.id, 'promoted'],
      [quick.body.id, 'cancelled'],
    ]);
    expect(res.body.environments).toEqual(['staging']);
    const first = res.body.promotions[0];
    expect(first.approvals.map((a: { approver: { name: string }; comment: string }) => [a.approver.name, a.comment])).toEqual([
      ['rm1', 'ok'],
      ['rm2', ''],
    ]);
    expect(first.auditEvents.map((e: { action: string }) => e.action)).toEqual([
      'promotion.requested',
      'promotion.evaluating',
      'promotion.awaiting_approval',
      'approval.approve',
      'approval.approve',
      'promotion.approved',
      'promotion.promoting',
      'promotion.promoted',
    ]);
    expect(first.auditEvents.at(-1).data).toMatchObject({ target: `${registryHost()}/staging/prov@${d}` });
    expect(first.auditEvents[0].data).toMatchObject({ reason: 'ship it', digest: d });
    expect(res.body.promotions[1].auditEvents.at(-1)).toMatchObject({ action: 'promotion.cancelled', data: { reason: 'wrong target' } });

    const unknown = await t.api().get(`/api/v1/images/${digest()}/provenance`).set(auth(auditor));
    expect(unknown.body).toMatchObject({ promotions: [], environments: [] });
  });
});

describe('health, readiness and metrics', () => {
  it('answers health checks without a token and metrics only with one', async () => {
    expect((await t.api().get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await t.api().get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
    expect((await t.api().get('/metrics')).status).toBe(401);
    const metrics = await t.api().get('/metrics').set(auth(auditor));
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.text).toMatch(/promoter_promotion_transitions_total\{to="awaiting_approval"\} \d+/);
    expect(metrics.text).toContain('process_cpu_seconds_total');
    expect(metrics.text).toMatch(
      /promoter_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/environments",status="200"\} \d+/,
    );
  });

  it('serves the OpenAPI document and its UI', async () => {
    const ui = await t.api().get('/docs').redirects(1);
    expect(ui.status).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
    const res = await t.api().get('/docs-json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/promotions', '/api/v1/promotions/{id}/approvals', '/api/v1/audit/verify']),
    );
  });
});

describe('tokens', () => {
  it('shows a token once, keeps only its hash, refuses duplicates, and retires the bootstrap token once an admin exists', async () => {
    const created = await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(t.bootstrapToken))
      .send({ name: 'deployer', roles: ['ci', 'ci'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'deployer', roles: ['ci'] });
    expect(created.body.token).toMatch(/^pmt_[A-Za-z0-9_-]{43}$/);
    const { rows } = await t.db.query(`SELECT * FROM api_tokens WHERE name = 'deployer'`);
    expect(JSON.stringify(rows)).not.toContain(created.body.token);
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    const { rows: events } = await t.db.query(`SELECT data FROM audit_events WHERE action = 'token.created'`);
    expect(JSON.stringify(events)).not.toContain(created.body.token);

    const dup = await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(t.bootstrapToken))
      .send({ name: 'deployer', roles: ['ci'] });
    expect(dup.status).toBe(409);

    const admin = await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(t.bootstrapToken))
      .send({ name: 'root', roles: ['admin'] });
    expect(admin.status).toBe(201);
    expect((await t.api().get('/api/v1/environments').set(auth(t.bootstrapToken))).status).toBe(401);
    const byAdmin = await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(admin.body.token))
      .send({ name: 'later', roles: ['auditor'] });
    expect(byAdmin.status).toBe(201);
  });
});
