import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditEventBody } from '#libs/domain/index.js';
import { leafHash, openCheckpoint, parseVkey, verifyConsistency, verifyInclusion } from '#libs/tlog/index.js';
import { AuditService } from '#libs/workflow/index.js';
import { AUDIT_ORIGIN, auditKeyFiles, integrated } from '../helpers/audit.js';
import { devImage, eventually, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let ci: string;
let rm: string;
let auditor: string;
let admin: string;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const keys = auditKeyFiles({ everyEvents: 10 });

async function verify(query = '') {
  const res = await t.api().get(`/api/v1/audit/verify${query}`).set(auth(auditor));
  expect(res.status).toBe(200);
  return res.body;
}

beforeAll(async () => {
  t = await startTestApp({ pipeline: testPipeline() + keys.block });
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
  auditor = await t.token('auditor', ['auditor']);
  admin = await t.token('admin', ['admin']);
  for (let i = 0; i < 3; i++) {
    const p = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(`a${i}`), target: 'staging', reason: `r${i}` });
    await t
      .api()
      .post(`/api/v1/promotions/${p.body.id}/approvals`)
      .set(auth(rm))
      .send({ decision: 'approve', comment: `looks good ${i}` });
  }
  await integrated(t.db);
});
afterAll(() => t?.close());

/**
 * Runs SQL the way someone with superuser access to the database could: with triggers off, so
 * that the append-only guard does not stand in the way. Only the tree and its checkpoints can catch this.
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

/** Runs `work` while holding the integrator's lock, so that no integration round sees a half-tampered log. */
async function paused<T>(work: () => Promise<T>): Promise<T> {
  const { AUDIT_INTEGRATOR_LOCK } = await import('#libs/workflow/index.js');
  const client = await t.db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [AUDIT_INTEGRATOR_LOCK]);
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [AUDIT_INTEGRATOR_LOCK]);
    client.release();
  }
}

const TABLES = ['audit_events', 'audit_leaves', 'audit_tree', 'audit_tree_head', 'audit_checkpoints', 'audit_unintegrated'];

describe('the audit log', () => {
  let snapshot: Record<string, Record<string, unknown>[]>;
  beforeEach(async () => {
    await integrated(t.db);
    snapshot = {};
    for (const table of TABLES) snapshot[table] = (await t.db.query(`SELECT * FROM ${table}`)).rows;
  });

  async function restore() {
    for (const table of TABLES) {
      await tamper(`DELETE FROM ${table}`);
      for (const row of snapshot[table]!) {
        const cols = Object.keys(row);
        await tamper(
          `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          cols.map((c) => (c === 'data' ? JSON.stringify(row[c]) : row[c])),
        );
      }
    }
    expect((await verify()).ok).toBe(true);
  }

  it('refuses ordinary updates, deletes and truncation', async () => {
    for (const table of ['audit_events', 'audit_leaves', 'audit_tree', 'audit_checkpoints']) {
      await expect(
        t.db.query(
          `UPDATE ${table} SET ${table === 'audit_events' ? "actor = 'x'" : table === 'audit_checkpoints' ? "note = 'x'" : table === 'audit_leaves' ? 'seq = seq' : 'hash = hash'}`,
        ),
      ).rejects.toThrow(/append-only/);
      await expect(t.db.query(`DELETE FROM ${table}`)).rejects.toThrow(/append-only/);
      await expect(t.db.query(`TRUNCATE ${table}`)).rejects.toThrow(/append-only/);
    }
    expect((await verify()).ok).toBe(true);
  });

  it('verifies intact, every event a leaf at the next index, each leaf the hash of its event bytes', async () => {
    const result = await verify();
    const events = snapshot.audit_events!;
    expect(result).toMatchObject({ ok: true, brokenAt: null, events: events.length, pending: 0 });
    const leaves = [...snapshot.audit_leaves!].sort((a, b) => Number(a.idx) - Number(b.idx));
    expect(leaves.map((l) => Number(l.idx))).toEqual(events.map((_, i) => i));
    expect(new Set(leaves.map((l) => l.seq)).size).toBe(events.length);
    const level0 = new Map(snapshot.audit_tree!.filter((n) => n.level === 0).map((n) => [String(n.idx), n.hash as Buffer]));
    for (const leaf of leaves) {
      const e = events.find((x) => x.seq === leaf.seq)!;
      const body = auditEventBody({
        id: e.id as string,
        at: e.at as Date,
        actor: e.actor as string,
        action: e.action as string,
        subject: e.subject as string,
        data: e.data as Record<string, unknown>,
      });
      expect(e.body).toBe(body);
      const expected = createHash('sha256')
        .update(Buffer.from([0]))
        .update(body, 'utf8')
        .digest();
      expect(level0.get(String(leaf.idx))!.equals(expected)).toBe(true);
    }
    const page = await t.api().get('/api/v1/audit/events?limit=500').set(auth(auditor));
    expect(page.body.items.map((e: { index: number }) => e.index)).toEqual(
      page.body.items.map((e: { seq: number }) => Number(leaves.find((l) => Number(l.seq) === e.seq)!.idx)),
    );
  });

  it('detects an edited event and names it', async () => {
    await paused(async () => {
      await tamper(`UPDATE audit_events SET data = jsonb_set(data, '{reason}', '"forged"') WHERE seq = 3`);
      expect(await verify()).toMatchObject({
        ok: false,
        events: 2,
        brokenAt: { seq: 3, index: 2, reason: 'the event does not match its leaf: its stored fields were edited' },
      });
      await restore();
      await tamper(`UPDATE audit_events SET actor = 'token:someone-else', body = replace(body, actor, 'token:someone-else') WHERE seq = 5`);
      expect((await verify()).brokenAt).toMatchObject({ seq: 5, reason: 'hash does not match the event content' });
      await restore();
    });
  });

  it('detects an edited event whose leaf and head were recomputed, against the signed checkpoint', async () => {
    await t.api().post('/api/v1/audit/checkpoints').set(auth(admin)).expect(201);
    const size = Number((await t.db.query('SELECT size FROM audit_tree_head')).rows[0].size);
    await paused(async () => {
      await rewrite(4, 'forged comment');
      const result = await verify();
      expect(result.ok).toBe(false);
      expect(result.brokenAt.reason).toContain('signed checkpoint');
      expect(result.brokenAt.size).toBeLessThanOrEqual(size);
      await restore();
    });
  });

  it('detects a deleted event in the middle', async () => {
    await paused(async () => {
      await tamper('DELETE FROM audit_events WHERE seq = 6');
      expect(await verify()).toMatchObject({ ok: false, brokenAt: { seq: 6, reason: expect.stringContaining('was removed') } });
      await restore();
    });
  });

  it('detects deleted events at the end, even with the head moved back', async () => {
    const checkpoint = await t.api().post('/api/v1/audit/checkpoints').set(auth(admin)).expect(201);
    const size = checkpoint.body.size as number;
    await paused(async () => {
      await tamper('DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_leaves WHERE idx >= $1)', [size - 2]);
      await tamper('DELETE FROM audit_leaves WHERE idx >= $1', [size - 2]);
      await tamper(`UPDATE audit_tree_head SET size = $1`, [size - 2]);
      const result = await verify();
      expect(result.ok).toBe(false);
      expect(result.brokenAt.reason).toContain('removed from the end');
      await restore();
    });
  });

  it('detects an event inserted around the queueing trigger', async () => {
    await paused(async () => {
      await tamper(
        `INSERT INTO audit_events (id, at, actor, action, subject, data, body) VALUES (gen_random_uuid(), now(), 'token:x', 'promotion.approved', 'promotion:x', '{}', '{}')`,
      );
      const result = await verify();
      expect(result.ok).toBe(false);
      expect(result.brokenAt.reason).toContain('outside the log');
      await restore();
    });
  });

  it('stays one tree under concurrent writes', async () => {
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) =>
        t
          .api()
          .post('/api/v1/promotions')
          .set(auth(ci))
          .send({ image: await devImage(`c${i}`), target: 'staging' }),
      ),
    );
    await integrated(t.db);
    expect((await verify()).ok).toBe(true);
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs, max(idx)::int AS last FROM audit_leaves',
    );
    expect(rows[0].seqs).toBe(rows[0].n);
    expect(rows[0].last).toBe(rows[0].n - 1);
  });

  it('never reports a false alarm when verified in a loop during 1,000 writes', async () => {
    const audit = t.app.get(AuditService);
    let writing = true;
    const results: { ok: boolean; brokenAt: unknown }[] = [];
    const verifying = (async () => {
      while (writing) results.push(await verify(results.length % 2 === 0 ? '' : '?incremental=true'));
    })();
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          audit.transaction((m) => audit.append(m, 'token:load', { action: 'load.test', subject: `load:${batch}`, data: { i } })),
        ),
      );
    }
    await integrated(t.db);
    writing = false;
    await verifying;
    results.push(await verify());
    expect(results.length).toBeGreaterThan(1);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.at(-1)).toMatchObject({ ok: true, pending: 0 });
  });
});

/** What the database owner did in the review: rewrite an approval's comment and every hash above it. */
async function rewrite(seq: number, comment: string) {
  const { rows } = await t.db.query('SELECT e.body, l.idx FROM audit_events e JOIN audit_leaves l USING (seq) WHERE seq = $1', [seq]);
  const event = JSON.parse(rows[0].body);
  event.data = { ...event.data, comment };
  const { canonicalJson } = await import('#libs/domain/index.js');
  const body = canonicalJson(event);
  await tamper('UPDATE audit_events SET body = $1, data = $2 WHERE seq = $3', [body, JSON.stringify(event.data), seq]);
  // Recompute the leaf and every complete subtree above it, then the head.
  const { CompactRange } = await import('#libs/tlog/index.js');
  const all = (await t.db.query('SELECT e.body FROM audit_leaves l JOIN audit_events e USING (seq) ORDER BY l.idx')).rows;
  const range = CompactRange.empty();
  const nodes: { level: number; index: number; hash: Buffer }[] = [];
  for (const r of all) range.append(leafHash(Buffer.from(r.body, 'utf8')), (id, hash) => nodes.push({ ...id, hash }));
  await tamper(
    'UPDATE audit_tree t SET hash = n.hash FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) AS n(level, idx, hash) WHERE t.level = n.level AND t.idx = n.idx',
    [nodes.map((n) => n.level), nodes.map((n) => n.index), nodes.map((n) => n.hash)],
  );
  await tamper('UPDATE audit_tree_head SET root = $1', [range.root()]);
}

describe('checkpoints and proofs', () => {
  it('signs checkpoints on demand (admin only) and every N events, lists them latest first', async () => {
    expect((await t.api().post('/api/v1/audit/checkpoints').set(auth(auditor))).status).toBe(403);
    const made = await t.api().post('/api/v1/audit/checkpoints').set(auth(admin));
    expect(made.status).toBe(201);
    const { vkey } = (await t.api().get('/api/v1/audit/key').set(auth(auditor)).expect(200)).body;
    expect(vkey).toMatch(new RegExp(`^${AUDIT_ORIGIN.replace('/', '\\/')}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}$`));
    const cp = openCheckpoint(made.body.note, parseVkey(vkey), AUDIT_ORIGIN);
    expect(cp.size).toBe(made.body.size);
    expect(cp.rootHash.toString('base64')).toBe(made.body.rootHash);

    const before = made.body.size as number;
    const audit = t.app.get(AuditService);
    for (let i = 0; i < 12; i++) await audit.transaction((m) => audit.append(m, 'token:x', { action: 'test.event', subject: `test:${i}` }));
    const list = await eventually(async () => {
      const res = await t.api().get('/api/v1/audit/checkpoints').set(auth(auditor));
      return res.body.items[0].size >= before + 10 ? res.body.items : null;
    });
    const sizes = list.map((c: { size: number }) => c.size);
    expect(sizes).toEqual([...sizes].sort((a: number, b: number) => b - a));
    expect(list[0]).toEqual({
      size: expect.any(Number),
      rootHash: expect.any(String),
      note: expect.stringContaining(`${AUDIT_ORIGIN}\n`),
      createdAt: expect.any(String),
    });
  });

  it('proves every event included in the checkpoint and checkpoints consistent with each other', async () => {
    await integrated(t.db);
    const first = (await t.api().post('/api/v1/audit/checkpoints').set(auth(admin))).body;
    const audit = t.app.get(AuditService);
    for (let i = 0; i < 5; i++) await audit.transaction((m) => audit.append(m, 'token:x', { action: 'test.more', subject: `more:${i}` }));
    await integrated(t.db);
    const second = (await t.api().post('/api/v1/audit/checkpoints').set(auth(admin))).body;
    const verifier = parseVkey((await t.api().get('/api/v1/audit/key').set(auth(auditor))).body.vkey);
    const root = openCheckpoint(second.note, verifier).rootHash;
    const events = (await t.db.query('SELECT seq FROM audit_events ORDER BY seq')).rows.map((r) => Number(r.seq));
    for (const seq of events.slice(0, 40)) {
      const proof = (await t.api().get('/api/v1/audit/proofs/inclusion').query({ seq, size: second.size }).set(auth(auditor)).expect(200))
        .body;
      expect(proof.checkpoint).toBe(second.note);
      const leaf = Buffer.from(proof.leaf, 'base64');
      expect(JSON.parse(leaf.toString('utf8')).id).toBeTruthy();
      expect(
        verifyInclusion(
          proof.index,
          second.size,
          leafHash(leaf),
          proof.hashes.map((h: string) => Buffer.from(h, 'base64')),
          root,
        ),
      ).toBe(true);
    }
    const c = (
      await t.api().get('/api/v1/audit/proofs/consistency').query({ from: first.size, to: second.size }).set(auth(auditor)).expect(200)
    ).body;
    const oldRoot = openCheckpoint(first.note, verifier).rootHash;
    expect(
      verifyConsistency(
        first.size,
        second.size,
        oldRoot,
        root,
        c.hashes.map((h: string) => Buffer.from(h, 'base64')),
      ),
    ).toBe(true);
    expect(
      verifyConsistency(
        first.size,
        second.size,
        Buffer.alloc(32),
        root,
        c.hashes.map((h: string) => Buffer.from(h, 'base64')),
      ),
    ).toBe(false);
  });

  it('answers 400 naming the valid range for bad sizes', async () => {
    const size = Number((await t.db.query('SELECT size FROM audit_tree_head')).rows[0].size);
    const get = (path: string, query: Record<string, string | number>) =>
      t.api().get(`/api/v1/audit/proofs/${path}`).query(query).set(auth(auditor));
    for (const query of [
      { from: -1, to: 2 },
      { from: 'abc', to: 2 },
      { from: 5, to: 3 },
      { from: 1, to: size + 1 },
    ]) {
      const res = await get('consistency', query);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(
        query.from === 5 || query.to === size + 1 ? new RegExp(`0 <= from <= to <= ${size}`) : /non-negative whole number/,
      );
    }
    const tooBig = await get('inclusion', { seq: 3, size: size + 5 });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.message).toMatch(new RegExp(`between \\d+ .* and ${size}`));
    expect((await get('inclusion', { seq: 3, size: 1 })).status).toBe(400);
    expect((await get('inclusion', { seq: -3 })).status).toBe(400);
    expect((await get('inclusion', { seq: 99999999 })).status).toBe(404);
    expect((await get('inclusion', { seq: 3, size: 0x7fffffff, extra: 1 })).status).toBe(400);
  });
});

describe('appends survive the integrator being away', () => {
  it('keeps events appended while no integrator runs and links them all when one starts', async () => {
    const api = await startTestApp({ worker: false, pipeline: testPipeline() + keys.block });
    try {
      const token = await api.token('ci', ['ci']);
      for (let i = 0; i < 5; i++) {
        expect([201, 202]).toContain(
          (
            await api
              .api()
              .post('/api/v1/promotions')
              .set(auth(token))
              .send({ image: await devImage(`k${i}`), target: 'staging' })
          ).status,
        );
      }
      const { rows } = await api.db.query(
        'SELECT (SELECT count(*) FROM audit_unintegrated)::int AS queued, (SELECT count(*) FROM audit_leaves)::int AS leaves, (SELECT count(*) FROM audit_events)::int AS events',
      );
      expect(rows[0]).toEqual({ queued: rows[0].events, leaves: 0, events: rows[0].events });
      // An integration round that dies half-way (here: its subtree write fails) must leave everything queued.
      // A sequence is not rolled back with the transaction, so it counts the attempts.
      await api.db.query('CREATE SEQUENCE integration_attempts');
      await api.db.query(
        `CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF nextval('integration_attempts') = 1 THEN RAISE EXCEPTION 'integrator killed'; END IF; RETURN NULL; END $$`,
      );
      await api.db.query('CREATE TRIGGER fail_once BEFORE INSERT ON audit_tree FOR EACH STATEMENT EXECUTE FUNCTION fail_once()');
      const worker = await startTestApp({ worker: true, shareWith: api, pipeline: testPipeline() + keys.block });
      try {
        expect(await integrated(api.db, 20_000)).toBe(rows[0].events);
        const attempts = await api.db.query('SELECT last_value::int AS n FROM integration_attempts');
        expect(attempts.rows[0].n).toBeGreaterThanOrEqual(2);
        const leaves = await api.db.query('SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs FROM audit_leaves');
        expect(leaves.rows[0]).toEqual({ n: rows[0].events, seqs: rows[0].events });
      } finally {
        await worker.close();
      }
    } finally {
      await api.close();
    }
  });
});
