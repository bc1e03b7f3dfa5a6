import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devImage, startTestApp, type TestApp } from '../helpers/test-app.js';

// Approvals count persons, not credentials: the security review's alice/alice2 case, token owners,
// expiry and last use, and the audit log naming the person behind every actor.

let t: TestApp;
let admin: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  t = await startTestApp({ worker: false });
  admin = (
    await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(t.bootstrapToken))
      .send({ name: 'root', roles: ['admin'], owner: 'root@example.com' })
  ).body.token;
});
afterAll(async () => {
  await t?.close();
});

async function token(body: Record<string, unknown>) {
  const res = await t.api().post('/api/v1/tokens').set(auth(admin)).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; token: string; owner: string; expiresAt: string };
}

describe('approvals counted per person', () => {
  it('refuses the second token of the person who requested, and counts two tokens of one approver once', async () => {
    const alice = await token({ name: 'alice', roles: ['ci', 'release-manager'], owner: 'alice@example.com' });
    const alice2 = await token({ name: 'alice2', roles: ['release-manager'], owner: 'Alice@Example.com' });
    const bob = await token({ name: 'bob', roles: ['release-manager'], owner: 'bob@example.com' });
    const bob2 = await token({ name: 'bob-laptop', roles: ['release-manager'], owner: 'bob@example.com' });

    const requested = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(alice.token))
      .send({ image: await devImage('web'), target: 'staging', reason: 'r' });
    expect(requested.status).toBe(202);
    const id = requested.body.id as string;
    expect(requested.body.requestedBy).toEqual({ id: `token:${alice.id}`, name: 'alice', person: 'alice@example.com' });
    await t.api().get(`/api/v1/promotions/${id}`).set(auth(alice.token));

    const self = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(alice2.token)).send({ decision: 'approve' });
    expect(self.status).toBe(403);
    expect(self.body.details.code).toBe('self_approval');

    expect((await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(bob.token)).send({ decision: 'approve' })).status).toBe(201);
    const twice = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(bob2.token)).send({ decision: 'approve' });
    expect(twice.status).toBe(409);
    expect(twice.body.details.code).toBe('duplicate_decision');

    const view = (await t.api().get(`/api/v1/promotions/${id}`).set(auth(bob.token))).body;
    expect(view.status).toBe('awaiting_approval');
    expect(view.approval).toMatchObject({ approvers: ['bob@example.com'], needed: 1 });
    expect(view.approvals[0].approver).toEqual({ id: `token:${bob.id}`, name: 'bob', person: 'bob@example.com' });

    // The audit log names the person, their display name and the credential used.
    const auditor = await token({ name: 'audrey', roles: ['auditor'] });
    const events = await t
      .api()
      .get('/api/v1/audit/events')
      .query({ subject: `promotion:${id}` })
      .set(auth(auditor.token));
    const approved = events.body.items.find((e: { action: string }) => e.action === 'approval.approve');
    expect(approved.data.actor).toEqual({ person: 'bob@example.com', name: 'bob', kind: 'person', credential: 'token' });
    const byPerson = await t.api().get('/api/v1/audit/events').query({ person: 'BOB@example.com' }).set(auth(auditor.token));
    expect(byPerson.body.items.map((e: { action: string }) => e.action)).toEqual(['approval.approve']);
    const provenance = await t.api().get(`/api/v1/images/${view.digest}/provenance`).set(auth(auditor.token));
    const requestedEvent = provenance.body.promotions[0].auditEvents.find((e: { action: string }) => e.action === 'promotion.requested');
    expect(requestedEvent.data.actor).toEqual({ person: 'alice@example.com', name: 'alice', kind: 'person', credential: 'token' });
  });
});

describe('token owners, expiry and last use', () => {
  it('defaults the owner to the name, bounds the expiry, and lists owner, expiry and last use', async () => {
    const before = Date.now();
    const plain = await token({ name: 'svc-deploy', roles: ['ci'], kind: 'workload' });
    expect(plain.owner).toBe('svc-deploy');
    // identity.tokens.defaultExpiry is 90 days when unset.
    const days = (Date.parse(plain.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);

    const tooLong = await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(admin))
      .send({ name: 'forever', roles: ['ci'], expiresAt: '2999-01-01T00:00:00Z' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toContain('maxExpiry');
    const past = await t
      .api()
      .post('/api/v1/tokens')
      .set(auth(admin))
      .send({ name: 'past', roles: ['ci'], expiresAt: '2001-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.message).toContain('future');

    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const carol = await token({ name: 'carol', roles: ['auditor'], owner: 'carol@example.com', expiresAt: soon });
    expect((await t.api().get('/api/v1/environments').set(auth(carol.token))).status).toBe(200);
    const listed = (await t.api().get('/api/v1/tokens').set(auth(admin))).body.items;
    expect(listed.find((i: { id: string }) => i.id === carol.id)).toMatchObject({
      owner: 'carol@example.com',
      kind: 'person',
      expiresAt: new Date(soon).toISOString(),
      lastUsedAt: expect.any(String),
    });
    expect(listed.find((i: { id: string }) => i.id === plain.id)).toMatchObject({ kind: 'workload', lastUsedAt: null });

    // An expired token is refused, saying so.
    const old = await token({ name: 'old', roles: ['auditor'] });
    await t.db.query(`UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, [old.id]);
    const refused = await t.api().get('/api/v1/environments').set(auth(old.token));
    expect(refused.status).toBe(401);
    expect(refused.body.message).toContain('expired');
  });

  it('keeps tokens made before owners and expiry working, their name as owner', async () => {
    const legacy = await token({ name: 'legacy', roles: ['auditor'] });
    // As the migration leaves a token made before this release: owner = name, no expiry.
    await t.db.query(`UPDATE api_tokens SET expires_at = NULL WHERE id = $1`, [legacy.id]);
    const res = await t.api().get('/api/v1/environments').set(auth(legacy.token));
    expect(res.status).toBe(200);
    const { rows } = await t.db.query(`SELECT owner FROM api_tokens WHERE id = $1`, [legacy.id]);
    expect(rows[0].owner).toBe('legacy');
  });
});
