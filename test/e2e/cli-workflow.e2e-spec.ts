import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { pushImage } from '../helpers/images.js';
import { layer, pushLayers } from '../helpers/layers.js';
import { devImage, digest, registryHost, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let url: string;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};
let mid: string;

async function promoctl(args: string[], token: string) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: { PROMOTER_URL: url, PROMOTER_TOKEN: token },
  });
  return { code, stdout, stderr };
}

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const list = async (token: string, query: Record<string, string | number>) =>
  t.api().get('/api/v1/promotions').query(query).set(auth(token));
const idsOf = (res: { body: { items: { id: string }[] } }) => res.body.items.map((p) => p.id);

async function request(token: string, image: string, target: string): Promise<string> {
  const res = await t.api().post('/api/v1/promotions').set(auth(token)).send({ image, target });
  expect(res.status).toBe(202);
  return res.body.id;
}

beforeAll(async () => {
  t = await startTestApp({
    worker: false,
    pipeline:
      testPipeline() +
      `
  - name: reviewed
    from: dev
    repository: local/reviewed/{app}
    approvals: { required: 1, roles: [release-manager] }
    reviews: [security]
`,
  });
  await t.http.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(t.http.getHttpServer().address() as AddressInfo).port}`;
  for (const [name, roles] of [
    ['ci1', ['ci']],
    ['ci2', ['ci']],
    ['alice', ['release-manager']],
    ['bob', ['release-manager']],
    ['sam', ['security-reviewer']],
    ['aud', ['auditor']],
  ] as const) {
    tokens[name] = await t.token(name, [...roles]);
  }
  ids.a = await request(tokens.ci1!, await devImage('web'), 'staging');
  ids.b = await request(tokens.ci1!, await devImage('api'), 'staging');
  ids.c = await request(tokens.ci1!, await devImage('web'), 'reviewed');
  // The clock between the two groups: `from`/`to` split them here.
  await new Promise((resolve) => setTimeout(resolve, 20));
  mid = new Date().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 20));
  ids.e = await request(tokens.ci2!, await devImage('shop'), 'staging');
  ids.f = await request(tokens.alice!, await devImage('web'), 'staging');
  const approved = await t.api().post(`/api/v1/promotions/${ids.a}/approvals`).set(auth(tokens.alice!)).send({ decision: 'approve' });
  expect(approved.status).toBe(201);
});
afterAll(() => t?.close());

describe('GET /api/v1/promotions filters', () => {
  it('awaitingDecisionBy=me lists what the caller may still approve or review, by the approval rule', async () => {
    // alice approved a and requested f; bob may approve all five; sam may only review c; ci may decide nothing.
    expect(idsOf(await list(tokens.alice!, { awaitingDecisionBy: 'me' }))).toEqual([ids.e, ids.c, ids.b]);
    expect(idsOf(await list(tokens.bob!, { awaitingDecisionBy: 'me' }))).toEqual([ids.f, ids.e, ids.c, ids.b, ids.a]);
    expect(idsOf(await list(tokens.sam!, { awaitingDecisionBy: 'me' }))).toEqual([ids.c]);
    expect(idsOf(await list(tokens.ci1!, { awaitingDecisionBy: 'me' }))).toEqual([]);
    const bad = await list(tokens.bob!, { awaitingDecisionBy: 'alice' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain("only 'me'");
  });

  it('pages through awaitingDecisionBy=me with the cursor', async () => {
    const first = await list(tokens.bob!, { awaitingDecisionBy: 'me', limit: 3 });
    expect(idsOf(first)).toEqual([ids.f, ids.e, ids.c]);
    const second = await list(tokens.bob!, { awaitingDecisionBy: 'me', limit: 3, cursor: first.body.nextCursor });
    expect(idsOf(second)).toEqual([ids.b, ids.a]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('requestedBy (a name, a principal id or me), app, and a from/to time range', async () => {
    expect(idsOf(await list(tokens.ci1!, { requestedBy: 'me' }))).toEqual([ids.c, ids.b, ids.a]);
    expect(idsOf(await list(tokens.aud!, { requestedBy: 'ci2' }))).toEqual([ids.e]);
    const f = (await t.api().get(`/api/v1/promotions/${ids.f}`).set(auth(tokens.aud!))).body;
    expect(idsOf(await list(tokens.aud!, { requestedBy: f.requestedBy.id }))).toEqual([ids.f]);
    expect(idsOf(await list(tokens.aud!, { app: 'web' }))).toEqual([ids.f, ids.c, ids.a]);
    expect(idsOf(await list(tokens.aud!, { app: 'web', target: 'staging' }))).toEqual([ids.f, ids.a]);
    expect(idsOf(await list(tokens.aud!, { from: mid }))).toEqual([ids.f, ids.e]);
    expect(idsOf(await list(tokens.aud!, { to: mid }))).toEqual([ids.c, ids.b, ids.a]);
    expect((await list(tokens.aud!, { from: mid, to: mid })).status).toBe(400);
    expect((await list(tokens.aud!, { from: 'yesterday' })).status).toBe(400);
  });

  it('an unknown target or app is a 422 that lists the valid ones', async () => {
    const target = await list(tokens.aud!, { target: 'stagin' });
    expect(target.status).toBe(422);
    expect(target.body.message).toContain("unknown environment 'stagin'");
    expect(target.body.details.valid).toEqual(['staging', 'prod', 'quick', 'gated', 'open', 'reviewed']);
    const entry = await list(tokens.aud!, { target: 'dev' });
    expect(entry.status).toBe(422);
    expect(entry.body.message).toContain('entry');
    const app = await list(tokens.aud!, { app: 'wbe' });
    expect(app.status).toBe(422);
    expect(app.body.details.valid).toEqual(['api', 'shop', 'web']);
    expect(app.body.message).toContain('api, shop, web');
    // A known app with nothing matching the other filters is an empty list, not an error.
    const none = await list(tokens.aud!, { app: 'shop', target: 'reviewed' });
    expect(none.status).toBe(200);
    expect(none.body.items).toEqual([]);
  });
});

describe('promoctl for the whole workflow', () => {
  it('list: filters, text and JSON, and a misspelt target named', async () => {
    const mine = await promoctl(['list', '--awaiting-me'], tokens.sam!);
    expect(mine.code).toBe(0);
    expect(mine.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+APP\s+ROUTE\s+REQUESTER\s+CREATED$/);
    expect(mine.stdout).toMatch(new RegExp(`^${ids.c}\\s+awaiting_approval\\s+web\\s+dev → reviewed\\s+ci1\\s`, 'm'));
    expect(mine.stdout.trim().split('\n')).toHaveLength(2);
    const json = JSON.parse((await promoctl(['list', '--mine', '--app', 'web', '--json'], tokens.ci1!)).stdout);
    expect(json.items.map((p: { id: string }) => p.id)).toEqual([ids.c, ids.a]);
    const paged = await promoctl(['list', '--status', 'awaiting_approval', '--limit', '1', '--from', mid], tokens.aud!);
    expect(paged.stdout).toContain(ids.f);
    expect(paged.stdout).toMatch(/^more: add --cursor \S+$/m);
    const typo = await promoctl(['list', '--target', 'stagin'], tokens.aud!);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("422 Unprocessable Entity: target: unknown environment 'stagin'");
    expect(typo.stderr).toContain('staging');
    const none = await promoctl(['list', '--requested-by', 'nobody'], tokens.aud!);
    expect(none.stdout).toBe('no promotions match\n');
  });

  it('reevaluate, cancel, and the events that recorded them', async () => {
    const again = await promoctl(['reevaluate', ids.b!], tokens.bob!);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`promotion ${ids.b} is evaluated again (round 2); status: awaiting_approval`);
    const cancelled = await promoctl(['cancel', ids.b!, '--reason', 'superseded by build 43'], tokens.ci1!);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toBe(`cancelled promotion ${ids.b}; status: cancelled\n`);
    const twice = await promoctl(['cancel', ids.b!], tokens.ci1!);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('409');

    const events = await promoctl(['events', ids.b!], tokens.aud!);
    expect(events.code).toBe(0);
    const actions = events.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[3]);
    expect(actions).toEqual([
      'promotion.requested',
      'promotion.evaluating',
      'promotion.awaiting_approval',
      'promotion.pending',
      'promotion.evaluating',
      'promotion.awaiting_approval',
      'promotion.cancelled',
    ]);
    expect(events.stdout).toContain('reason=superseded by build 43');
    const json = JSON.parse((await promoctl(['events', ids.b!, '--json'], tokens.aud!)).stdout);
    expect(json.items.at(-1)).toMatchObject({ action: 'promotion.cancelled', subject: `promotion:${ids.b}` });
    const refused = await promoctl(['events', ids.b!], tokens.ci1!);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('403');
  });

  it('waiver create, list and revoke', async () => {
    const d = digest();
    const created = await promoctl(
      [
        'waiver',
        'create',
        '--vulnerability',
        'CVE-2023-5363',
        '--digest',
        d,
        '--justification',
        'TLS is terminated by the ingress',
        '--expires',
        '30d',
        '--vex',
        'not_affected',
        '--vex-justification',
        'vulnerable_code_not_in_execute_path',
      ],
      tokens.sam!,
    );
    expect(created.code).toBe(0);
    const id = /created waiver (\S+): CVE-2023-5363 for digest sha256:[0-9a-f]{64} until \S+/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    const listed = await promoctl(['waiver', 'list', '--active', '--vulnerability', 'CVE-2023-5363'], tokens.ci1!);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+CVE-2023-5363\\s+digest ${d}\\s+until \\S+\\s+active\\s+sam$`, 'm'));
    const noScope = await promoctl(
      ['waiver', 'create', '--vulnerability', 'CVE-1', '--justification', 'long enough reason', '--expires', '1d'],
      tokens.sam!,
    );
    expect(noScope.code).toBe(2);
    expect(noScope.stderr).toContain('give exactly one scope');
    const revoked = await promoctl(['waiver', 'revoke', id!], tokens.sam!);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked waiver ${id} (CVE-2023-5363)`);
    const inactive = JSON.parse((await promoctl(['waiver', 'list', '--inactive', '--json'], tokens.aud!)).stdout);
    expect(inactive.find((w: { id: string }) => w.id === id)).toMatchObject({ active: false, revokedBy: expect.any(String) });
  });

  it('provenance of a digest', async () => {
    const f = (await t.api().get(`/api/v1/promotions/${ids.f}`).set(auth(tokens.aud!))).body;
    const shown = await promoctl(['provenance', f.digest], tokens.aud!);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`digest ${f.digest}`);
    expect(shown.stdout).toContain('in: (no environment yet)');
    expect(shown.stdout).toContain(`promotion ${ids.f}  dev → staging  awaiting_approval`);
    expect(shown.stdout).toContain('requested by alice');
    const bad = await promoctl(['provenance', 'sha256:nothex'], tokens.aud!);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('400');
  });

  it('policy evaluate: exit 0 when the rules pass, 1 when they deny', async () => {
    await pushImage({ url: `http://${registryHost()}` }, 'dev/polite', { tag: '1.0' });
    const passed = await promoctl(['policy', 'evaluate', '--image', `${registryHost()}/dev/polite:1.0`, '--to', 'gated'], tokens.ci1!);
    expect(passed.stderr).toBe('');
    expect(passed.code).toBe(0);
    expect(passed.stdout).toMatch(/^policy of gated on \S+@sha256:[0-9a-f]{64}: passed: /);
    expect(passed.stdout).toMatch(/non-root\s+linux\/amd64\s+deny\s+pass/);
    await pushLayers({ url: `http://${registryHost()}` }, 'dev/rude', [await layer([{ name: 'app', content: 'x' }])], {
      tag: '1.0',
      config: { Cmd: ['/app'] },
    });
    const denied = await promoctl(['policy', 'evaluate', '--image', `${registryHost()}/dev/rude:1.0`, '--to', 'gated'], tokens.ci1!);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(/: failed: denied by non-root/);
    expect(denied.stdout).toMatch(/non-root\s+linux\/amd64\s+deny\s+fail\s+the image runs as root/);
    const none = await promoctl(['policy', 'evaluate', '--image', `${registryHost()}/dev/polite:1.0`, '--to', 'staging'], tokens.ci1!);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('has no policy gate');
  });

  it('token revoke takes a name as well as an id', async () => {
    await t.token('temp-bot', ['ci']);
    const revoked = await promoctl(['token', 'revoke', 'temp-bot'], t.bootstrapToken);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked token 'temp-bot' \(id [0-9a-f-]{36}\) at \S+$/m);
    const unknown = await promoctl(['token', 'revoke', 'no-such-bot'], t.bootstrapToken);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no token is named 'no-such-bot'");
  });
});
