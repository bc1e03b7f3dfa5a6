import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('listing and revoking tokens', () => {
  it('lists tokens without secrets, revokes one for good, audits it, and keeps the last admin', async () => {
    const root = (
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(t.bootstrapToken))
        .send({ name: 'root', roles: ['admin'] })
    ).body;
    const ci = (
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(root.token))
        .send({ name: 'ci', roles: ['ci'] })
    ).body;
    expect((await t.api().get('/api/v1/environments').set(auth(ci.token))).status).toBe(200);

    // Only admins see the list, and it never carries a secret or hash.
    expect((await t.api().get('/api/v1/tokens').set(auth(ci.token))).status).toBe(403);
    const listed = await t.api().get('/api/v1/tokens').set(auth(root.token));
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i: { name: string }) => i.name)).toEqual(['root', 'ci']);
    expect(listed.body.items[1]).toEqual({
      id: ci.id,
      name: 'ci',
      roles: ['ci'],
      owner: 'ci',
      kind: 'person',
      createdBy: `token:${root.id}`,
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      lastUsedAt: expect.any(String),
      revokedAt: null,
      revokedBy: null,
    });
    expect(JSON.stringify(listed.body)).not.toContain(ci.token);
    const { rows } = await t.db.query(`SELECT token_hash FROM api_tokens WHERE id = $1`, [ci.id]);
    expect(JSON.stringify(listed.body)).not.toContain(rows[0].token_hash);

    // A non-admin cannot revoke; a revoked token stops working at once (this process drops its cache).
    expect((await t.api().delete(`/api/v1/tokens/${ci.id}`).set(auth(ci.token))).status).toBe(403);
    const revoked = await t.api().delete(`/api/v1/tokens/${ci.id}`).set(auth(root.token));
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: ci.id, revokedBy: `token:${root.id}`, revokedAt: expect.any(String) });
    expect((await t.api().get('/api/v1/environments').set(auth(ci.token))).status).toBe(401);

    // Revoking again changes nothing and writes no second event.
    const again = await t.api().delete(`/api/v1/tokens/${ci.id}`).set(auth(root.token));
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const { rows: events } = await t.db.query(`SELECT actor, subject, data FROM audit_events WHERE action = 'token.revoked'`);
    expect(events).toEqual([
      {
        actor: `token:${root.id}`,
        subject: `token:${ci.id}`,
        data: { name: 'ci', roles: ['ci'], actor: { person: 'root', name: 'root', kind: 'person', credential: 'token' } },
      },
    ]);
    expect((await t.api().get('/api/v1/audit/verify').set(auth(root.token))).body.ok).toBe(true);

    // The last admin token is kept; with a second admin it can go, and the bootstrap token stays retired.
    const last = await t.api().delete(`/api/v1/tokens/${root.id}`).set(auth(root.token));
    expect(last.status).toBe(409);
    expect(last.body.message).toContain('last admin token');
    const second = (
      await t
        .api()
        .post('/api/v1/tokens')
        .set(auth(root.token))
        .send({ name: 'root2', roles: ['admin'] })
    ).body;
    expect((await t.api().delete(`/api/v1/tokens/${root.id}`).set(auth(second.token))).status).toBe(200);
    expect((await t.api().get('/api/v1/tokens').set(auth(root.token))).status).toBe(401);
    expect((await t.api().get('/api/v1/tokens').set(auth(t.bootstrapToken))).status).toBe(401);

    // Bad ids are refused by name; unknown ones are 404.
    const bad = await t.api().delete('/api/v1/tokens/not-a-uuid').set(auth(second.token));
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('token id');
    expect((await t.api().delete('/api/v1/tokens/00000000-0000-4000-8000-000000000000').set(auth(second.token))).status).toBe(404);
  });
});
