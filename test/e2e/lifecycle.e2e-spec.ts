import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getManifest, pushImage } from '../helpers/images.js';
import { devImage, digest, pushTestImage, eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm1: string;
let rm2: string;
let sec: string;
let auditor: string;
let ciManager: string;

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

async function request(token: string, body: Record<string, unknown>, key?: string) {
  const req = t.api().post('/api/v1/promotions').set(auth(token));
  if (key) req.set('Idempotency-Key', key);
  return req.send(body);
}

async function auditActions(id: string): Promise<string[]> {
  const { rows } = await t.db.query('SELECT action FROM audit_events WHERE subject = $1 ORDER BY seq', [`promotion:${id}`]);
  return rows.map((r) => r.action);
}

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci-main', ['ci']);
  rm1 = await t.token('alice', ['release-manager']);
  rm2 = await t.token('bob', ['release-manager']);
  sec = await t.token('sam', ['security-reviewer']);
  auditor = await t.token('audrey', ['auditor']);
  ciManager = await t.token('carol', ['ci', 'release-manager']);
});
afterAll(() => t?.close());

describe('a promotion from request to approval', () => {
  it('waits for two distinct release managers, is approved, then copied into staging; every step audited', async () => {
    const pushed = await pushImage({ url: `http://${registryHost()}` }, 'dev/web', { tag: '1.2.0' });
    const image = await devImage('web', pushed.digest);
    const created = await request(ci, { image, target: 'staging', reason: 'release 1.2' });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      image,
      source: 'dev',
      target: 'staging',
      app: 'web',
      targetRepository: `${registryHost()}/staging/web`,
      status: 'awaiting_approval',
      reason: 'release 1.2',
      requestedBy: { name: 'ci-main' },
      approval: { required: 2, needed: 2, approvers: [] },
    });
    const id = created.body.id;

    const first = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm1)).send({ decision: 'approve', comment: 'lgtm' });
    expect(first.status).toBe(201);
    expect(first.body.status).toBe('awaiting_approval');
    expect(first.body.approval.needed).toBe(1);

    const again = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm1)).send({ decision: 'approve' });
    expect(again.status).toBe(409);
    expect(again.body.details.code).toBe('duplicate_decision');

    const second = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm2)).send({ decision: 'approve' });
    expect(second.status).toBe(201);
    expect(second.body.status).toBe('approved');
    expect(second.body.approvals).toHaveLength(2);
    expect(second.body.approvals.every((a: { counts: boolean; digest: string }) => a.counts && a.digest === created.body.digest)).toBe(
      true,
    );

    const promoted = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
      return res.body.status === 'promoted' && res.body;
    });
    expect(promoted.digest).toBe(pushed.digest);
    const inStaging = await getManifest({ url: `http://${registryHost()}` }, 'staging/web', pushed.digest);
    expect(inStaging.digest).toBe(pushed.digest);

    expect(await auditActions(id)).toEqual([
      'promotion.requested',
      'promotion.evaluating',
      'promotion.awaiting_approval',
      'approval.approve',
      'approval.approve',
      'promotion.approved',
      'promotion.promoting',
      'promotion.promoted',
    ]);
    const { rows } = await t.db.query(`SELECT actor FROM audit_events WHERE subject = $1 AND action = 'approval.approve' ORDER BY seq`, [
      `promotion:${id}`,
    ]);
    expect(rows.map((r) => r.actor)).toHaveLength(2);
    expect(new Set(rows.map((r) => r.actor)).size).toBe(2);
  });

  it('is rejected by any allowed approver, and takes no decision after that', async () => {
    const created = await request(ci, { image: await devImage('api'), target: 'staging' });
    const id = created.body.id;
    const rejected = await t
      .api()
      .post(`/api/v1/promotions/${id}/approvals`)
      .set(auth(rm1))
      .send({ decision: 'reject', comment: 'not this week' });
    expect(rejected.status).toBe(201);
    expect(rejected.body.status).toBe('rejected');
    // The rule counts people by name: the rejecting token is alice's.
    expect(rejected.body.approval.rejectedBy).toBe('alice');
    const late = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm2)).send({ decision: 'approve' });
    expect(late.status).toBe(409);
    expect(late.body.message).toContain('rejected');
  });

  it('refuses the requester approving their own promotion', async () => {
    const created = await request(ciManager, { image: await devImage('self'), target: 'staging' });
    expect(created.status).toBe(202);
    const own = await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(ciManager)).send({ decision: 'approve' });
    expect(own.status).toBe(403);
    expect(own.body.details.code).toBe('self_approval');
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM approvals WHERE promotion_id = $1', [created.body.id]);
    expect(rows[0].n).toBe(0);
  });

  it('needs the security review as well as the approval where the environment demands it', async () => {
    const d = await pushTestImage('dev/pay', 'staging/pay');
    const staging = await request(ci, { image: await devImage('pay', d), target: 'staging' });
    // The copy into staging comes with the registry engine; stand in for it here.
    await t.db.query(`UPDATE promotions SET status = 'promoted' WHERE id = $1`, [staging.body.id]);
    const created = await request(ci, { image: `${registryHost()}/staging/pay@${d}`, target: 'prod' });
    expect(created.status).toBe(202);
    const id = created.body.id;
    expect(created.body.approval.missingReviews).toEqual(['security']);

    const approved = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm1)).send({ decision: 'approve' });
    expect(approved.body.status).toBe('awaiting_approval');
    expect(approved.body.approval).toMatchObject({ needed: 0, missingReviews: ['security'] });

    const wrongKind = await t.api().post(`/api/v1/promotions/${id}/reviews`).set(auth(sec)).send({ kind: 'legal', verdict: 'approve' });
    expect(wrongKind.status).toBe(422);
    const wrongRole = await t.api().post(`/api/v1/promotions/${id}/reviews`).set(auth(rm2)).send({ kind: 'security', verdict: 'approve' });
    expect(wrongRole.status).toBe(403);

    const reviewed = await t
      .api()
      .post(`/api/v1/promotions/${id}/reviews`)
      .set(auth(sec))
      .send({ kind: 'security', verdict: 'approve', notes: 'no findings' });
    expect(reviewed.status).toBe(201);
    expect(reviewed.body.status).toBe('approved');
    expect(reviewed.body.reviews[0]).toMatchObject({ kind: 'security', verdict: 'approve', counts: true, reviewer: { name: 'sam' } });
  });
});

describe('the pipeline order', () => {
  it('refuses skipping an environment and images not yet promoted into the source', async () => {
    // In the registry's staging repository, but never promoted there by the service.
    const d = await pushTestImage('dev/web', 'staging/web');
    const skip = await request(ci, { image: await devImage('web', d), target: 'prod' });
    expect(skip.status).toBe(422);
    expect(skip.body.message).toContain("'prod' is promoted from 'staging'");
    const notThere = await request(ci, { image: `${registryHost()}/staging/web@${d}`, target: 'prod' });
    expect(notThere.status).toBe(422);
    expect(notThere.body.message).toContain("has not been promoted into 'staging'");
    const intoEntry = await request(ci, { image: await devImage('web', d), target: 'dev' });
    expect(intoEntry.status).toBe(422);
    expect(intoEntry.body.message).toContain('entry');
  });

  it('refuses a digest the source repository does not hold, naming it, and leaves nothing behind; accepts one it holds', async () => {
    const missing = `${registryHost()}/dev/ghost@${digest()}`;
    const refused = await request(ci, { image: missing, target: 'staging' });
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe(`image: '${missing}' does not exist in the registry`);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM promotions WHERE app = $1', ['ghost']);
    expect(rows[0].n).toBe(0);
    // The same digest in another repository of the registry is still not in this one.
    const elsewhere = await pushTestImage('dev/other');
    const wrongRepo = await request(ci, { image: `${registryHost()}/dev/ghost@${elsewhere}`, target: 'staging' });
    expect(wrongRepo.status).toBe(422);
    expect(wrongRepo.body.message).toContain(`dev/ghost@${elsewhere}' does not exist`);
    const held = await request(ci, { image: await devImage('ghost'), target: 'staging' });
    expect(held.status).toBe(202);
  });

  it('keeps one live promotion per digest and environment', async () => {
    const image = await devImage('once');
    expect((await request(ci, { image, target: 'staging' })).status).toBe(202);
    const twice = await request(ci, { image, target: 'staging' });
    expect(twice.status).toBe(409);
    expect(twice.body.message).toContain('already has an open promotion');
    expect(twice.body.details.promotionId).toBeTruthy();
  });
});

describe('idempotency', () => {
  it('answers the same promotion for the same key and body, and 409 for another body', async () => {
    const body = { image: await devImage('idem'), target: 'staging', reason: 'r' };
    const first = await request(ci, body, 'build-42');
    const second = await request(ci, body, 'build-42');
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const other = await request(ci, { ...body, reason: 'other' }, 'build-42');
    expect(other.status).toBe(409);
    expect(other.body.message).toContain('Idempotency-Key');
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM promotions WHERE idempotency_key = $1', ['build-42']);
    expect(rows[0].n).toBe(1);
  });

  it('gives one promotion to concurrent requests with the same key', async () => {
    const body = { image: await devImage('race'), target: 'staging' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => request(ci, body, 'race-1')));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(9);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  });
});

describe('cancel', () => {
  it('lets the requester cancel, refuses other CI principals, and refuses cancelling twice', async () => {
    const created = await request(ci, { image: await devImage('cx'), target: 'staging' });
    const otherCi = await t.token('ci-other', ['ci']);
    const foreign = await t.api().post(`/api/v1/promotions/${created.body.id}/cancel`).set(auth(otherCi));
    expect(foreign.status).toBe(403);
    const cancelled = await t.api().post(`/api/v1/promotions/${created.body.id}/cancel`).set(auth(ci)).send({ reason: 'superseded' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const again = await t.api().post(`/api/v1/promotions/${created.body.id}/cancel`).set(auth(rm1));
    expect(again.status).toBe(409);
    expect(again.body.details.code).toBe('invalid_transition');
    // A cancelled promotion frees the digest for a new request.
    expect((await request(ci, { image: created.body.image, target: 'staging' })).status).toBe(202);
  });
});

describe('roles', () => {
  it('answers 401 without a valid token and 403 without the role', async () => {
    expect((await t.api().get('/api/v1/environments')).status).toBe(401);
    expect((await t.api().get('/api/v1/environments').set(auth('pmt_nope'))).status).toBe(401);
    const asAuditor = await request(auditor, { image: await devImage(), target: 'staging' });
    expect(asAuditor.status).toBe(403);
    expect(asAuditor.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    const created = await request(ciManager, { image: await devImage('roles'), target: 'staging' });
    // Any role may ask; the environment's approvals.roles decide.
    const byCi = await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(ci)).send({ decision: 'approve' });
    expect(byCi.status).toBe(403);
    expect(byCi.body.details.code).toBe('role_not_allowed');
    const byAuditor = await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(auditor)).send({ decision: 'reject' });
    expect(byAuditor.status).toBe(403);
    expect((await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci))).body.status).toBe('awaiting_approval');
    expect(
      (await t.api().post(`/api/v1/promotions/${created.body.id}/reviews`).set(auth(ci)).send({ kind: 'security', verdict: 'approve' }))
        .status,
    ).toBe(403);
    expect((await t.api().get(`/api/v1/images/${created.body.digest}/provenance`).set(auth(ci))).status).toBe(403);
    expect((await t.api().get('/api/v1/audit/verify').set(auth(rm1))).status).toBe(403);
    expect(
      (
        await t
          .api()
          .post('/api/v1/tokens')
          .set(auth(rm1))
          .send({ name: 'x', roles: ['admin'] })
      ).status,
    ).toBe(403);
  });
});
