import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { canonicalJson } from '#libs/domain/index.js';
import { CompactRange, leafHash } from '#libs/tlog/index.js';
import { AUDIT_INTEGRATOR_LOCK } from '#libs/workflow/index.js';
import { auditKeyFiles, integrated } from '../helpers/audit.js';
import { devImage, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let url: string;
let admin: string;
let auditor: string;
let ciToken: string;
const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
const keys = auditKeyFiles();
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

async function promoctl(args: string[], token?: string, base = url) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: { PROMOTER_URL: base, PROMOTER_TOKEN: token },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  t = await startTestApp({ pipeline: testPipeline() + keys.block });
  await t.http.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(t.http.getHttpServer().address() as AddressInfo).port}`;
  auditor = await t.token('auditor', ['auditor']);
  const ci = await t.token('ci', ['ci']);
  ciToken = ci;
  const rm = await t.token('rm', ['release-manager']);
  // Last: once an admin token exists the bootstrap token is no longer accepted.
  admin = await t.token('admin', ['admin']);
  for (let i = 0; i < 4; i++) {
    const p = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage(`x${i}`), target: 'staging', reason: `r${i}` });
    await t
      .api()
      .post(`/api/v1/promotions/${p.body.id}/approvals`)
      .set(auth(rm))
      .send({ decision: 'approve', comment: `fine ${i}` });
  }
  await integrated(t.db);
  await t.api().post('/api/v1/audit/checkpoints').set(auth(admin)).expect(201);
});
afterAll(() => t?.close());

describe('promoctl audit', () => {
  let vkey: string;
  const saved = join(dir, 'checkpoint.txt');
  const full = join(dir, 'audit.jsonl');

  it('prints the key and saves the latest checkpoint', async () => {
    const key = await promoctl(['audit', 'key'], auditor);
    expect(key.code).toBe(0);
    vkey = key.stdout.trim();
    expect(vkey).toBe((await t.api().get('/api/v1/audit/key').set(auth(auditor))).body.vkey);
    const cp = await promoctl(['audit', 'checkpoint', '--save', saved], auditor);
    expect(cp.code).toBe(0);
    const latest = (await t.api().get('/api/v1/audit/checkpoints?limit=1').set(auth(auditor))).body.items[0];
    expect(readFileSync(saved, 'utf8')).toBe(latest.note);
    const ok = await promoctl(['audit', 'verify', '--checkpoint', saved, '--key', vkey], auditor);
    expect(ok.stdout).toContain('consistent');
    expect(ok.code).toBe(0);
    // The PEM public key names itself after the checkpoint's origin.
    expect((await promoctl(['audit', 'verify', '--checkpoint', saved, '--key', keys.pubPath], auditor)).code).toBe(0);
  });

  it('exports the whole log and verifies the export with no network', async () => {
    const exported = await promoctl(['audit', 'export'], auditor);
    expect(exported.code).toBe(0);
    writeFileSync(full, exported.stdout);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = lines.pop();
    expect(last).toEqual({ checkpoint: expect.stringMatching(/^promoter\.test\/audit\n\d+\n/) });
    expect(lines.map((l) => l.index)).toEqual(lines.map((_, i) => i));
    for (const line of lines) expect(JSON.parse(Buffer.from(line.leaf, 'base64').toString('utf8')).id).toBe(line.id);
    // No server at this address and no token: the check is offline.
    const offline = await promoctl(['audit', 'verify', '--export', full, '--key', vkey], undefined, 'http://127.0.0.1:9');
    expect(offline.stdout).toContain(`export verified: ${lines.length} events rebuild`);
    expect(offline.code).toBe(0);

    const forged = exported.stdout.replace(/"comment":"fine 2"/, '"comment":"forged"');
    expect(forged).not.toBe(exported.stdout);
    writeFileSync(join(dir, 'forged.jsonl'), forged);
    const bad = await promoctl(['audit', 'verify', '--export', join(dir, 'forged.jsonl'), '--key', vkey]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/export INVALID at line \d+ \(leaf \d+\): the event's data is not what its leaf says/);
  });

  it('passes the independent verification script of docs/audit.md, which refuses an altered leaf', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/audit.md'), 'utf8');
    const block = /<!-- verify-script:start -->\n```js\n([\s\S]+?)```\n<!-- verify-script:end -->/.exec(doc);
    expect(block).not.toBeNull();
    expect(block![1]!.trim().split('\n').length).toBeLessThanOrEqual(35);
    const script = join(dir, 'verify-audit.mjs');
    writeFileSync(script, block![1]!);
    const out = execFileSync(process.execPath, [script, vkey, full], { encoding: 'utf8' });
    expect(out).toMatch(/^ok: \d+ events of promoter\.test\/audit match the signed checkpoint/);

    const lines = readFileSync(full, 'utf8').trim().split('\n');
    const victim = JSON.parse(lines[2]!);
    const leaf = JSON.parse(Buffer.from(victim.leaf, 'base64').toString('utf8'));
    leaf.actor = 'token:someone-else';
    victim.leaf = Buffer.from(JSON.stringify(leaf)).toString('base64');
    lines[2] = JSON.stringify(victim);
    writeFileSync(join(dir, 'leaf-forged.jsonl'), lines.join('\n') + '\n');
    expect(() =>
      execFileSync(process.execPath, [script, vkey, join(dir, 'leaf-forged.jsonl')], { encoding: 'utf8', stdio: 'pipe' }),
    ).toThrow(/do not rebuild the signed root/);
  });

  it('exports a time range with inclusion proofs, resumable after a seq', async () => {
    const { rows } = await t.db.query('SELECT seq, at FROM audit_events ORDER BY seq');
    const from = (rows[3].at as Date).toISOString();
    const part = await promoctl(['audit', 'export', '--from', from], auditor);
    expect(part.code).toBe(0);
    const lines = part.stdout.trim().split('\n');
    const events = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.at >= from && Array.isArray(e.proof))).toBe(true);
    writeFileSync(join(dir, 'part.jsonl'), part.stdout);
    const checked = await promoctl(['audit', 'verify', '--export', join(dir, 'part.jsonl'), '--key', vkey]);
    expect(checked.stdout).toContain('are proved included');
    expect(checked.code).toBe(0);

    const resumed = await promoctl(['audit', 'export', '--after-seq', String(events[1].seq)], auditor);
    const again = resumed.stdout
      .trim()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l));
    expect(again[0].seq).toBe(events[2].seq);
  });

  it("reports the database owner's rewrite with triggers disabled, with the first differing size", async () => {
    const before = readFileSync(saved, 'utf8');
    const savedSize = Number(before.split('\n')[1]);
    const client = await t.db.connect();
    try {
      // The review's attack: triggers off, an approval's comment edited, every hash recomputed, the
      // stored checkpoints that would contradict it deleted. The integrator's lock keeps it out meanwhile.
      await client.query('SELECT pg_advisory_lock($1)', [AUDIT_INTEGRATOR_LOCK]);
      await client.query('SET session_replication_role = replica');
      const { rows } = await client.query(`SELECT seq, body FROM audit_events WHERE action = 'approval.approve' ORDER BY seq LIMIT 1`);
      const event = JSON.parse(rows[0].body);
      event.data = { ...event.data, comment: 'rubber stamp' };
      await client.query('UPDATE audit_events SET body = $1, data = $2 WHERE seq = $3', [
        canonicalJson(event),
        JSON.stringify(event.data),
        rows[0].seq,
      ]);
      const all = (await client.query('SELECT e.body FROM audit_leaves l JOIN audit_events e USING (seq) ORDER BY l.idx')).rows;
      const range = CompactRange.empty();
      const nodes: { level: number; index: number; hash: Buffer }[] = [];
      for (const r of all) range.append(leafHash(Buffer.from(r.body, 'utf8')), (id, hash) => nodes.push({ ...id, hash }));
      await client.query(
        'UPDATE audit_tree t SET hash = n.hash FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) AS n(level, idx, hash) WHERE t.level = n.level AND t.idx = n.idx',
        [nodes.map((n) => n.level), nodes.map((n) => n.index), nodes.map((n) => n.hash)],
      );
      await client.query('UPDATE audit_tree_head SET root = $1', [range.root()]);
      await client.query('DELETE FROM audit_checkpoints');
    } finally {
      await client.query('SET session_replication_role = origin');
      await client.query('SELECT pg_advisory_unlock($1)', [AUDIT_INTEGRATOR_LOCK]);
      client.release();
    }
    // The service goes on and signs the rewritten history with its genuine key.
    await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ciToken))
      .send({ image: await devImage('after'), target: 'staging' });
    await integrated(t.db);
    const resigned = await t.api().post('/api/v1/audit/checkpoints').set(auth(admin)).expect(201);
    expect(resigned.body.size).toBeGreaterThan(savedSize);

    const result = await promoctl(['audit', 'verify', '--checkpoint', saved, '--key', vkey, '--json'], auditor);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, firstDifferingSize: savedSize });
    const text = await promoctl(['audit', 'verify', '--checkpoint', saved, '--key', vkey], auditor);
    expect(text.stdout).toContain(`DIVERGES`);
    expect(text.stdout).toContain(`first differing size ${savedSize}`);
    // The export from before the rewrite still verifies offline: it is the auditor's own record.
    expect((await promoctl(['audit', 'verify', '--export', full, '--key', vkey])).code).toBe(0);
  });
});
