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

/**
 * Runs SQL the way someone with superuser access to the database could: with triggers off, so
 * that the append-only guard does not stand in the way. Only the hash chain can catch this.
 */
async function tamper(sql: string, params: unknown[] = []) {
  const client = await t.db.connect();
  try {
    await client.query('SET session_replication_role = replica');
    await client.query(sql, params);
  } finally {
    await client.query('SET session_replication_role = origin');
    client.release();
  }
}

describe('the audit chain', () => {
  let snapshot: Record<string, unknown>[];
  beforeEach(async () => {
    snapshot = (await t.db.query('SELECT * FROM audit_events ORDER BY seq')).rows;
  });

  async function restore() {
    await tamper('DELETE FROM audit_events');
    for (const r of snapshot) {
      await tamper('INSERT INTO audit_events (seq, id, at, actor, action, subject, data, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)', [
        r.seq, r.id, r.at, r.actor, r.action, r.subject, JSON.stringify(r.data), r.prev_hash, r.hash,
      ]);
    }
    expect((await verify()).ok).toBe(true);
  }

  it('refuses ordinary updates, deletes and truncation', async () => {
    await expect(t.db.query(`UPDATE audit_events SET actor = 'x' WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(t.db.query('DELETE FROM audit_events WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(t.db.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    expect((await verify()).ok).toBe(true);
  });

  it('verifies intact, with every event linked to the one before', async () => {
    const result = await verify();
    expect(result).toMatchObject({ ok: true, brokenAt: null });
    expect(result.events).toBe(snapshot.length);
    expect(result.head).toBe(snapshot.at(-1)!.hash);
    expect(snapshot[0]!.prev_hash).toBe('0'.repeat(64));
    for (let i = 1; i < snapshot.length; i++) expect(snapshot[i]!.prev_hash).toBe(snapshot[i - 1]!.hash);
  });

  it('detects an edited event and names it', async () => {
    await tamper(`UPDATE audit_events SET data = jsonb_set(data, '{reason}', '"forged"') WHERE seq = 3`);
    expect(await verify()).toMatchObject({ ok: false, events: 2, brokenAt: { seq: 3, reason: 'hash does not match the event content' } });
    await restore();
    await tamper(`UPDATE audit_events SET actor = 'token:someone-else' WHERE seq = 5`);
    expect((await verify()).brokenAt.seq).toBe(5);
    await restore();
  });

  it('detects an edited event whose hash was recomputed, at the next link', async () => {
    await tamper(`UPDATE audit_events SET hash = repeat('f', 64) WHERE seq = 4`);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt.seq).toBe(4);
    await restore();
  });

  it('detects a deleted event in the middle', async () => {
    await tamper('DELETE FROM audit_events WHERE seq = 6');
    expect(await verify()).toMatchObject({ ok: false, brokenAt: { seq: 6, id: null } });
    await restore();
  });

  it('detects deleted events at the end', async () => {
    const last = snapshot.length;
    await tamper('DELETE FROM audit_events WHERE seq >= $1', [last - 1]);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt.reason).toContain('removed from the end');
    await restore();
  });

  it('detects an event inserted around the chaining trigger', async () => {
    await tamper(`INSERT INTO audit_events (id, at, actor, action, subject, data) VALUES (gen_random_uuid(), now(), 'token:x', 'promotion.approved', 'promotion:x', '{}')`);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.brokenAt.reason).toContain('outside the chain');
    await restore();
  });

  it('matches the hash the service computes with the one the database computed', async () => {
    const { eventHash } = await import('../../libs/workflow/index.js');
    const row = snapshot[2]!;
    expect(eventHash(row.prev_hash as string, { id: row.id as string, at: row.at as Date, actor: row.actor as string, action: row.action as string, subject: row.subject as string, data: row.data as Record<string, unknown> })).toBe(row.hash);
    expect(snapshot.every((r) => r.body === null)).toBe(true);
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
