import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { devImage, startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm: string;
let auditor: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

async function verify() {
  const res = await t.api().get('/api/v1/audit/verify').set(auth(auditor));
  expect(res.status).toBe(200);
  return res.body;
}

beforeAll(async () => {
  t = await startTestApp();
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
  auditor = await t.token('auditor', ['auditor']);
  for (let i = 0; i < 3; i++) {
    const p = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image: devImage(`a${i}`), target: 'staging', reason: `r${i}` });
    await t.api().post(`/api/v1/promotions/${p.body.id}/approvals`).set(auth(rm)).send({ decision: 'approve' });
  }
});
afterAll(() => t?.close());

describe('the audit chain', () => {
  let snapshot: Record<string, unknown>[];
  beforeEach(async () => {
    snapshot = (await t.db.query('SELECT * FROM audit_events ORDER BY seq')).rows;
  });

  async function restore() {
    await t.db.query('DELETE FROM audit_events');
    for (const r of snapshot) {
      await t.db.query('INSERT INTO audit_events (seq, id, at, actor, action, subject, data, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)', [
        r.seq, r.id, r.at, r.actor, r.action, r.subject, JSON.stringify(r.data), r.prev_hash, r.hash,
      ]);
    }
    expect((await verify()).ok).toBe(true);
  }

  it('verifies intact, with every event linked to the one before', async () => {
    const result = await verify();
    expect(result).toMatchObject({ ok: true, brokenAt: null });
    expect(result.events).toBe(snapshot.length);
    expect(result.head).toBe(snapshot.at(-1)!.hash);
    expect(snapshot[0]!.prev_hash).toBe('0'.repeat(64));
    for (let i = 1; i < snapshot.length; i++) expect(snapshot[i]!.prev_hash).toBe(snapshot[i - 1]!.hash);
  });

  it('detects an edited event and names it', async () => {
    await t.db.query(`UPDATE audit_events SET data = jsonb_set(data, '{reason}', '"forged"') WHERE seq = 3`);
    expect(await verify()).toMatchObject({ ok: false, events: 2, brokenAt: { seq: 3, reason: 'hash does not match the event content' } });
    await restore();
    await t.db.query(`UPDATE audit_events SET actor = 'token:someone-else' WHERE seq = 5`);
    expect((await verify()).brokenAt.seq).toBe(5);
    await restore();
  });

  it('detects an edited event whose hash was recomputed, at the next link', async () => {
    await t.db.query(`UPDATE audit_events SET hash = repeat('f', 64) WHERE seq = 4`);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt.seq).toBe(4);
    await restore();
  });

  it('detects a deleted event in the middle', async () => {
    await t.db.query('DELETE FROM audit_events WHERE seq = 6');
    expect(await verify()).toMatchObject({ ok: false, brokenAt: { seq: 6, id: null } });
    await restore();
  });

  it('detects deleted events at the end', async () => {
    const last = snapshot.length;
    await t.db.query('DELETE FROM audit_events WHERE seq >= $1', [last - 1]);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt.reason).toContain('removed from the end');
    await restore();
  });

  it('stays one chain under concurrent writes', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => t.api().post('/api/v1/promotions').set(auth(ci)).send({ image: devImage(`c${i}`), target: 'staging' })),
    );
    const result = await verify();
    expect(result.ok).toBe(true);
    const { rows } = await t.db.query('SELECT count(DISTINCT prev_hash)::int AS links, count(*)::int AS n FROM audit_events');
    expect(rows[0].links).toBe(rows[0].n);
  });
});

describe('reading the audit log', () => {
  it('filters by subject, actor and time, and pages with a cursor', async () => {
    const all = await t.api().get('/api/v1/audit/events?limit=500').set(auth(auditor));
    expect(all.status).toBe(200);
    const subject = all.body.items.find((e: { action: string }) => e.action === 'promotion.requested').subject;
    const bySubject = await t.api().get('/api/v1/audit/events').query({ subject }).set(auth(auditor));
    expect(bySubject.body.items.length).toBeGreaterThan(1);
    expect(bySubject.body.items.every((e: { subject: string }) => e.subject === subject)).toBe(true);

    const { rows } = await t.db.query(`SELECT id FROM api_tokens WHERE name = 'rm'`);
    const byActor = await t.api().get('/api/v1/audit/events').query({ actor: `token:${rows[0].id}` }).set(auth(auditor));
    expect(byActor.body.items.length).toBeGreaterThan(0);
    expect(byActor.body.items.every((e: { actor: string }) => e.actor === `token:${rows[0].id}`)).toBe(true);

    const future = await t.api().get('/api/v1/audit/events').query({ from: '2099-01-01T00:00:00Z' }).set(auth(auditor));
    expect(future.body.items).toEqual([]);
    const past = await t.api().get('/api/v1/audit/events').query({ to: '2000-01-01T00:00:00Z' }).set(auth(auditor));
    expect(past.body.items).toEqual([]);
    expect((await t.api().get('/api/v1/audit/events').query({ from: 'yesterday' }).set(auth(auditor))).status).toBe(400);

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { seq: number }[]; nextCursor: string | null } } = await t
        .api()
        .get('/api/v1/audit/events')
        .query(cursor ? { limit: 7, cursor } : { limit: 7 })
        .set(auth(auditor));
      expect(page.body.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.body.items.map((e) => e.seq));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((e: { seq: number }) => e.seq));
  });
});
