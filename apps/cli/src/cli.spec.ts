import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import type { Promotion, PromotionStatus } from './types.js';

const TOKEN = 'secret-token';

interface Recorded {
  method: string;
  path: string;
  auth: string | undefined;
  idempotencyKey: string | undefined;
  body: unknown;
}

const requests: Recorded[] = [];
const promotions = new Map<string, Promotion>();
const scripts = new Map<string, (PromotionStatus | Partial<Promotion> | 503 | 'drop')[]>();
const idempotency = new Map<string, string>();
let auditBroken = false;
let nextId = 1;
let server: Server;
let baseUrl: string;

function makePromotion(id: string, image: string, target: string, status: PromotionStatus): Promotion {
  const now = new Date(0).toISOString();
  return {
    id,
    image,
    digest: 'sha256:abc123',
    source: 'staging',
    target,
    status,
    reason: null,
    requestedBy: { id: 'u-ci', name: 'ci-bot' },
    createdAt: now,
    updatedAt: now,
    gates: [],
    approvals: [],
    reviews: [],
    approval: { required: 2, roles: ['release-manager'], approvers: [], needed: 2, missingReviews: ['security'] },
  };
}

const now = () => new Date(0).toISOString();
const EVIDENCE = 'sha256:' + 'cd'.repeat(32);

function blockedByGates(): Partial<Promotion> {
  return {
    status: 'blocked',
    gates: [
      {
        gate: 'policy',
        status: 'failed',
        summary: 'denied by non-root',
        evidence: {
          rules: [
            { name: 'non-root', severity: 'deny', outcome: 'fail', platform: 'linux/amd64', message: 'the image runs as root; set USER' },
          ],
        },
        updatedAt: now(),
      },
      {
        gate: 'scan',
        status: 'failed',
        summary: '1 finding(s) at or above high: CVE-2023-5363 in libssl3',
        evidence: {
          blockingCount: 1,
          blocking: [
            { id: 'CVE-2023-5363', package: 'libssl3', installedVersion: '3.0.11-1', fixedVersion: '3.0.11-2', severity: 'critical' },
          ],
        },
        updatedAt: now(),
      },
      { gate: 'signature', status: 'passed', summary: 'cosign signature valid', updatedAt: now() },
    ],
  };
}

function refusedByRita(): Partial<Promotion> {
  return {
    status: 'rejected',
    approvals: [
      { approver: { id: 'u-ann', name: 'ann' }, decision: 'approve', comment: null, at: now(), counts: true },
      { approver: { id: 'u-rm', name: 'rita' }, decision: 'reject', comment: 'not during the freeze', at: now(), counts: true },
    ],
    reviews: [
      {
        reviewer: { id: 'u-sam', name: 'sam' },
        kind: 'security',
        verdict: 'reject',
        notes: 'CVE-2023-5363 is exploitable here',
        at: now(),
        counts: true,
      },
    ],
  };
}

function seed(): void {
  promotions.clear();
  scripts.clear();
  idempotency.clear();
  requests.length = 0;
  auditBroken = false;
  nextId = 1;
  const blocked = makePromotion('p-blocked', 'registry/app:9.9.9', 'production', 'blocked');
  blocked.gates = [
    { gate: 'vulnerability-scan', status: 'failed', summary: '3 critical CVEs', updatedAt: blocked.createdAt },
    { gate: 'signature', status: 'passed', summary: 'cosign signature valid', updatedAt: blocked.createdAt },
  ];
  blocked.approvals = [
    { approver: { id: 'u-ann', name: 'ann' }, decision: 'approve', comment: 'ship it', at: blocked.createdAt, counts: true },
    { approver: { id: 'u-ci', name: 'ci-bot' }, decision: 'approve', comment: null, at: blocked.createdAt, counts: false },
  ];
  blocked.approval = { required: 2, roles: ['release-manager'], approvers: ['token:x'], needed: 1, missingReviews: ['security'] };
  promotions.set(blocked.id, blocked);
  const waiting = makePromotion('p-waiting', 'registry/app:1.0.0', 'production', 'awaiting_approval');
  waiting.gates = [{ gate: 'signature', status: 'passed', summary: 'ok', updatedAt: waiting.createdAt }];
  promotions.set(waiting.id, waiting);
  promotions.set('p-done', makePromotion('p-done', 'registry/app:0.9.0', 'production', 'promoted'));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, statusCode: number, error: string, message: string, details: unknown = null): void {
  send(res, statusCode, { statusCode, error, message, details });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : undefined;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const path = req.url ?? '';
  const idem = req.headers['idempotency-key'];
  requests.push({
    method: req.method ?? '',
    path,
    auth: req.headers.authorization,
    idempotencyKey: typeof idem === 'string' ? idem : undefined,
    body,
  });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return fail(res, 401, 'Unauthorized', 'invalid or missing token');

  if (req.method === 'POST' && path === '/api/v1/tokens') {
    const { name, roles } = body as { name: string; roles: string[] };
    return send(res, 201, { id: 'tok-1', name, roles, token: 'ptk_live_0123456789', createdAt: new Date(0).toISOString() });
  }
  if (req.method === 'POST' && path === '/api/v1/promotions') {
    const { image, target } = body as { image: string; target: string };
    if (target === 'nowhere') {
      return fail(res, 400, 'Bad Request', 'validation failed', ['target: unknown environment nowhere']);
    }
    const key = typeof idem === 'string' ? idem : undefined;
    const existing = key ? idempotency.get(key) : undefined;
    if (existing) return send(res, 200, promotions.get(existing));
    if (image.endsWith(':live'))
      return fail(res, 409, 'Conflict', "sha256:abc123 already has an open promotion into 'production'", {
        promotionId: 'p-waiting',
        status: 'awaiting_approval',
      });
    const id = `p-${nextId++}`;
    const p = makePromotion(id, image, target, 'pending');
    promotions.set(id, p);
    if (key) idempotency.set(key, id);
    if (image.endsWith(':good')) scripts.set(id, ['evaluating', 'evaluating', 'awaiting_approval', 'promoting', 'promoted']);
    if (image.endsWith(':bad')) scripts.set(id, ['evaluating', 'rejected']);
    if (image.endsWith(':blocked')) scripts.set(id, ['evaluating', blockedByGates()]);
    if (image.endsWith(':refused')) scripts.set(id, ['awaiting_approval', refusedByRita()]);
    if (image.endsWith(':flaky')) scripts.set(id, ['evaluating', 503, 'drop', 503, 'awaiting_approval', 'drop', 'promoting', 'promoted']);
    if (image.endsWith(':doomed')) {
      const attempt = (n: number) => ({
        message: 'registry answered 503 <Service Unavailable>',
        step: 'copy',
        at: `2026-11-24T10:0${n}:00.000Z`,
        attempt: n,
      });
      scripts.set(id, [
        { status: 'promoting', lastError: attempt(1) },
        { status: 'promoting', lastError: attempt(1) },
        { status: 'promoting', lastError: attempt(2) },
        { status: 'failed', lastError: attempt(3) },
      ]);
    }
    if (image.endsWith(':copying')) {
      const progress = (done: number) => ({
        blobsDone: done,
        blobsTotal: 3,
        bytesDone: done * 1024 * 1024,
        bytesTotal: 3 * 1024 * 1024,
        updatedAt: now(),
      });
      const nothingYet = { blobsDone: 0, blobsTotal: 0, bytesDone: 0, bytesTotal: 0, updatedAt: now() };
      scripts.set(id, [
        { status: 'promoting', progress: nothingYet },
        { status: 'promoting', progress: progress(1) },
        { status: 'promoted', progress: progress(3) },
      ]);
    }
    return send(res, 202, p);
  }
  const one = /^\/api\/v1\/promotions\/([^/]+)(\/approvals)?$/.exec(path);
  if (one) {
    const p = promotions.get(decodeURIComponent(one[1]!));
    if (!p) return fail(res, 404, 'Not Found', `promotion ${one[1]} not found`);
    if (req.method === 'GET' && !one[2]) {
      const next = scripts.get(p.id)?.shift();
      if (next === 503) return fail(res, 503, 'Service Unavailable', 'restarting');
      if (next === 'drop') return void req.socket.destroy();
      if (typeof next === 'string') p.status = next;
      else if (next) Object.assign(p, next);
      return send(res, 200, p);
    }
    if (req.method === 'POST' && one[2]) {
      const { decision, comment } = body as { decision: 'approve' | 'reject'; comment?: string };
      p.approvals.push({ approver: { id: 'u-rm', name: 'rita' }, decision, comment: comment ?? null, at: p.createdAt, counts: true });
      if (decision === 'reject') {
        p.status = 'rejected';
      } else {
        p.approval.needed = Math.max(0, p.approval.needed - 1);
      }
      return send(res, 201, p);
    }
  }
  if (req.method === 'GET' && path === '/api/v1/audit/verify') {
    return send(
      res,
      200,
      auditBroken
        ? {
            ok: false,
            events: 12,
            pending: 0,
            head: 'f00d',
            checkpoint: null,
            from: 0,
            brokenAt: { seq: 7, id: 'evt-7', index: 6, size: null, reason: 'hash mismatch' },
          }
        : { ok: true, events: 12, pending: 0, head: 'beefcafe', checkpoint: { size: 10, rootHash: 'cafe' }, from: 0, brokenAt: null },
    );
  }
  return fail(res, 404, 'Not Found', `no route ${req.method} ${path}`);
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: { PROMOTER_URL: baseUrl, PROMOTER_TOKEN: TOKEN, ...env },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, 500, 'Internal Server Error', String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(seed);

describe('token create', () => {
  it('sends name and roles (repeated and comma-separated) and prints the token once', async () => {
    const r = await run(['token', 'create', '--name', 'deployer', '--role', 'ci', '--role', 'release-manager,auditor']);
    expect(r.code).toBe(0);
    expect(requests).toEqual([
      {
        method: 'POST',
        path: '/api/v1/tokens',
        auth: `Bearer ${TOKEN}`,
        idempotencyKey: undefined,
        body: { name: 'deployer', roles: ['ci', 'release-manager', 'auditor'] },
      },
    ]);
    expect(r.stdout).toMatch(/shown only once/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('ptk_live_0123456789');
    expect(r.stdout.split('ptk_live_0123456789')).toHaveLength(2);
  });

  it('rejects an unknown role as a usage error without calling the API', async () => {
    const r = await run(['token', 'create', '--name', 'x', '--role', 'ci,wizard']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown role 'wizard'/);
    expect(requests).toHaveLength(0);
  });

  it('requires --role', async () => {
    const r = await run(['token', 'create', '--name', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--role/);
  });
});

describe('promote', () => {
  it('requests a promotion and prints id, status, image and route', async () => {
    const r = await run(['promote', '--image', 'registry/app:1.2.3', '--to', 'production', '--reason', 'release 1.2']);
    expect(r.code).toBe(0);
    expect(requests[0]).toEqual({
      method: 'POST',
      path: '/api/v1/promotions',
      auth: `Bearer ${TOKEN}`,
      idempotencyKey: undefined,
      body: { image: 'registry/app:1.2.3', target: 'production', reason: 'release 1.2' },
    });
    expect(r.stdout).toContain('promotion p-1 requested');
    expect(r.stdout).toContain('status: pending');
    expect(r.stdout).toContain('registry/app:1.2.3');
    expect(r.stdout).toContain('staging → production');
  });

  it('sends the Idempotency-Key and reports a replay', async () => {
    const args = ['promote', '--image', 'registry/app:1.2.3', '--to', 'production', '--idempotency-key', 'k-42'];
    const first = await run(args);
    const second = await run(args);
    expect(requests.map((q) => q.idempotencyKey)).toEqual(['k-42', 'k-42']);
    expect(first.stdout).toContain('requested');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/promotion p-\d+ already requested \(idempotent replay\)/);
    expect(first.stdout.split('\n')[0]!.split(' ')[1]).toBe(second.stdout.split('\n')[0]!.split(' ')[1]);
  });

  it('prints the raw response with --json', async () => {
    const r = await run(['promote', '--image', 'registry/app:2.0.0', '--to', 'production', '--json']);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as Promotion;
    expect(body).toMatchObject({ image: 'registry/app:2.0.0', target: 'production', status: 'pending', source: 'staging' });
    expect(r.stdout).toContain('\n  "id"');
    expect(requests[0]!.body).toEqual({ image: 'registry/app:2.0.0', target: 'production' });
  });

  it('--wait follows status changes until promoted and exits 0', async () => {
    const r = await run(['promote', '--image', 'registry/app:good', '--to', 'production', '--wait', '--interval', '20ms']);
    expect(r.code).toBe(0);
    const changes = r.stdout.split('\n').filter((l) => l.startsWith('['));
    expect(changes.map((l) => l.replace(/^\[[^\]]+\] /, ''))).toEqual(['evaluating', 'awaiting_approval', 'promoting', 'promoted']);
    expect(r.stdout).toMatch(/promoted registry\/app:good to production/);
    const polls = requests.filter((q) => q.method === 'GET');
    expect(polls.length).toBe(5);
    expect(polls.every((q) => q.path === '/api/v1/promotions/p-1' && q.auth === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('--wait exits 1 when the promotion is rejected', async () => {
    const r = await run(['promote', '--image', 'registry/app:bad', '--to', 'production', '--wait', '--interval', '20ms']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\] rejected\n/);
    expect(r.stderr).toMatch(/ended rejected/);
  });

  it('--wait --json prints only the final promotion', async () => {
    const r = await run(['promote', '--image', 'registry/app:bad', '--to', 'production', '--wait', '--interval', '20ms', '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as Promotion).status).toBe('rejected');
  });

  it('--wait times out with exit 1 and says so', async () => {
    const started = Date.now();
    const r = await run([
      'promote',
      '--image',
      'registry/app:stuck',
      '--to',
      'production',
      '--wait',
      '--interval',
      '20ms',
      '--timeout',
      '150ms',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 150ms .*last status: pending/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(requests.filter((q) => q.method === 'GET').length).toBeGreaterThanOrEqual(2);
  });

  it('rejects a bad duration as a usage error', async () => {
    const r = await run(['promote', '--image', 'x', '--to', 'production', '--wait', '--timeout', '5 minutes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--timeout .*'5 minutes' is not a duration/);
    expect(requests).toHaveLength(0);
  });

  it('reports API errors with details and exits 2', async () => {
    const r = await run(['promote', '--image', 'x', '--to', 'nowhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: 400 Bad Request: validation failed');
    expect(r.stderr).toContain('target: unknown environment nowhere');
    expect(r.stdout).toBe('');
  });
});

describe('waiting: reasons, restarts, resuming', () => {
  const waitArgs = ['--wait', '--interval', '20ms', '--timeout', '20s'];

  it('--wait on a blocked promotion names each failing gate, what it found, and what to do', async () => {
    const r = await run(['promote', '--image', 'registry/app:blocked', '--to', 'production', ...waitArgs]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: promotion p-1 ended blocked, not promoted');
    expect(r.stderr).toContain('gate policy failed: denied by non-root');
    expect(r.stderr).toContain('rule non-root (linux/amd64): the image runs as root; set USER');
    expect(r.stderr).toContain('promoctl policy evaluate');
    expect(r.stderr).toContain('gate scan failed: 1 finding(s) at or above high');
    expect(r.stderr).toContain('CVE-2023-5363 in libssl3 3.0.11-1 (critical): fixed in 3.0.11-2');
    expect(r.stderr).toContain('promoctl waiver create');
    expect(r.stderr).not.toContain('gate signature');
    expect(r.stderr).toContain('promoctl reevaluate p-1');
  });

  it('--wait on a rejected promotion says who rejected it and what they said', async () => {
    const r = await run(['promote', '--image', 'registry/app:refused', '--to', 'production', ...waitArgs]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rejected by rita: "not during the freeze"');
    expect(r.stderr).toContain('rejected by sam in the security review: "CVE-2023-5363 is exploitable here"');
    expect(r.stderr).not.toContain('ann');
  });

  it('a timeout lists the approvals and reviews still missing', async () => {
    const r = await run(['wait', 'p-waiting', '--interval', '20ms', '--timeout', '100ms']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 100ms waiting for promotion p-waiting \(last status: awaiting_approval\)/);
    expect(r.stderr).toContain('still needed: 2 more approvals from release-manager');
    expect(r.stderr).toContain('still needed: security review');
  });

  it('waits through 503s and dropped connections, and reports the outage once', async () => {
    const r = await run(['promote', '--image', 'registry/app:flaky', '--to', 'production', ...waitArgs]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/promoted registry\/app:flaky to production/);
    expect(r.stderr.match(/is not answering/g)).toHaveLength(2);
    expect(r.stderr).toContain('503 Service Unavailable: restarting');
    expect(r.stderr.match(/answers again/g)).toHaveLength(2);
  });

  it('waits through a restart of the service (connection refused) until it is back', async () => {
    const flaky = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const port = (flaky.address() as AddressInfo).port;
    scripts.set('p-waiting', ['promoting', 'promoted']);
    let polls = 0;
    flaky.on('request', () => {
      // After the first answer the service goes away for a while, then comes back on the same port.
      if (++polls !== 1) return;
      setImmediate(() => {
        flaky.close();
        flaky.closeAllConnections();
        setTimeout(() => flaky.listen(port, '127.0.0.1'), 400);
      });
    });
    try {
      const r = await run(['wait', 'p-waiting', '--interval', '20ms', '--timeout', '20s'], { PROMOTER_URL: `http://127.0.0.1:${port}` });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('connection refused');
      expect(r.stderr).toContain('answers again');
      expect(r.stdout).toContain('promotion p-waiting: promoting');
      expect(r.stdout).toContain('promoted registry/app:1.0.0 to production');
    } finally {
      flaky.close();
      flaky.closeAllConnections();
    }
  });

  it('promoctl wait resumes on an existing promotion with the same exit codes', async () => {
    scripts.set('p-waiting', ['approved', 'promoting', 'promoted']);
    const ok = await run(['wait', 'p-waiting', '--interval', '20ms']);
    expect(ok.code).toBe(0);
    expect(
      ok.stdout
        .split('\n')
        .filter((l) => l.startsWith('['))
        .map((l) => l.replace(/^\[[^\]]+\] /, '')),
    ).toEqual(['promoting', 'promoted']);
    const blocked = await run(['wait', 'p-blocked', '--json']);
    expect(blocked.code).toBe(1);
    expect((JSON.parse(blocked.stdout) as Promotion).status).toBe('blocked');
    expect(blocked.stderr).toContain('gate vulnerability-scan failed: 3 critical CVEs');
    const missing = await run(['wait', 'p-missing']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('404');
  });

  it('--wait says each error the service is retrying, and why the promotion failed in the end', async () => {
    const r = await run(['promote', '--image', 'registry/app:doomed', '--to', 'production', ...waitArgs]);
    expect(r.code).toBe(1);
    expect(r.stderr.match(/\] error: copy, attempt 1 at 2026-11-24T10:01:00.000Z: registry answered 503/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/\] error: copy, attempt 2 at /);
    expect(r.stderr).not.toMatch(/\] error: copy, attempt 3/);
    expect(r.stderr).toContain(
      'error: promotion p-1 ended failed, not promoted\n  it failed: copy, attempt 3 at 2026-11-24T10:03:00.000Z: registry answered 503 <Service Unavailable>',
    );
    expect(r.stderr).toContain('promoctl retry p-1');
  });

  it('a timeout names the last error too', async () => {
    const p = promotions.get('p-waiting')!;
    p.status = 'promoting';
    p.lastError = { message: 'connection refused', step: 'copy', at: '2026-11-24T10:00:00.000Z', attempt: 2 };
    const r = await run(['wait', 'p-waiting', '--interval', '20ms', '--timeout', '100ms']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('last error: copy, attempt 2 at 2026-11-24T10:00:00.000Z: connection refused');
  });

  it('shows the progress of a copy', async () => {
    const r = await run(['promote', '--image', 'registry/app:copying', '--to', 'production', ...waitArgs]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\] promoting: 1\/3 blobs, 1\.0 MiB of 3\.0 MiB\n/);
    expect(r.stdout).not.toContain('0/0 blobs');
  });

  it('a 409 for a live promotion says how to follow it', async () => {
    const r = await run(['promote', '--image', 'registry/app:live', '--to', 'production', '--wait']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('hint: to follow the existing promotion: promoctl wait p-waiting');
  });
});

describe('status', () => {
  it('summarises a blocked promotion and exits 1', async () => {
    const r = await run(['status', 'p-blocked']);
    expect(r.code).toBe(1);
    expect(requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/promotions/p-blocked', auth: `Bearer ${TOKEN}` });
    expect(r.stdout).toContain('status:    blocked');
    expect(r.stdout).toContain('staging → production');
    expect(r.stdout).toContain('requester: ci-bot');
    expect(r.stdout).toMatch(/vulnerability-scan\s+failed\s+3 critical CVEs/);
    expect(r.stdout).toMatch(/ann\s+approve\s+counts\s+"ship it"/);
    expect(r.stdout).toMatch(/ci-bot\s+approve\s+does not count/);
    expect(r.stdout).toContain('still needed: re-evaluation once the failing gates can pass');
  });

  it('shows how far the copy of a promoting promotion has got', async () => {
    const p = promotions.get('p-waiting')!;
    p.status = 'promoting';
    p.progress = {
      blobsDone: 12,
      blobsTotal: 60,
      bytesDone: 512 * 1024 * 1024,
      bytesTotal: 2 * 1024 * 1024 * 1024,
      updatedAt: '2026-11-24T12:00:02.000Z',
    };
    const r = await run(['status', 'p-waiting']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  copy:      12/60 blobs, 512.0 MiB of 2.0 GiB (as of 2026-11-24T12:00:02.000Z)\n');
  });

  it('exits 0 for a promotion still in progress and for a promoted one', async () => {
    expect((await run(['status', 'p-waiting'])).code).toBe(0);
    const done = await run(['status', 'p-done', '--json']);
    expect(done.code).toBe(0);
    expect((JSON.parse(done.stdout) as Promotion).status).toBe('promoted');
  });

  it('reports a 404 as an error with exit 2', async () => {
    const r = await run(['status', 'p-missing']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: 404 Not Found: promotion p-missing not found\n');
  });
});

describe('approve and reject', () => {
  it('approve shows the gates, then sends the decision and comment bound to the evidence it showed, and prints what is still needed', async () => {
    promotions.get('p-waiting')!.evidenceDigest = EVIDENCE;
    promotions.get('p-waiting')!.gates = [
      { gate: 'scan', status: 'passed', summary: 'no finding at or above critical remains', updatedAt: now() },
    ];
    const r = await run(['approve', 'p-waiting', '--comment', 'looks good']);
    expect(r.code).toBe(0);
    expect(requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/promotions/p-waiting' });
    expect(requests[1]).toEqual({
      method: 'POST',
      path: '/api/v1/promotions/p-waiting/approvals',
      auth: `Bearer ${TOKEN}`,
      idempotencyKey: undefined,
      body: { decision: 'approve', comment: 'looks good', evidenceDigest: EVIDENCE },
    });
    expect(r.stdout).toMatch(/scan\s+passed\s+no finding at or above critical remains/);
    expect(r.stdout).toContain(`evidence: ${EVIDENCE}`);
    expect(r.stdout.indexOf('evidence:')).toBeLessThan(r.stdout.indexOf('approved promotion'));
    expect(r.stdout).toContain('status: awaiting_approval');
    expect(r.stdout).toContain('still needed: 1 more approval from release-manager; security review');
  });

  it('approve --evidence-digest sends the digest given, without looking again; a malformed one is a usage error', async () => {
    const given = 'sha256:' + 'ef'.repeat(32);
    const r = await run(['approve', 'p-waiting', '--evidence-digest', given]);
    expect(r.code).toBe(0);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body).toEqual({ decision: 'approve', evidenceDigest: given });
    const bad = await run(['approve', 'p-waiting', '--evidence-digest', 'abc']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('64 lowercase hex');
  });

  it('reject sends a reject decision without a comment', async () => {
    const r = await run(['reject', 'p-waiting']);
    expect(r.code).toBe(0);
    expect(requests.at(-1)!.body).toEqual({ decision: 'reject' });
    expect(r.stdout).toContain('rejected promotion p-waiting; status: rejected');
    expect(r.stdout).toContain('still needed: nothing');
  });
});

describe('verify', () => {
  it('refuses a bare digest (it named no repository and was looked up on Docker Hub)', async () => {
    for (const ref of [`sha256:${'a'.repeat(64)}`, `@sha256:${'a'.repeat(64)}`]) {
      const r = await run(['verify', ref, '--key', 'cosign.pub']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('names no repository: give registry/repository@sha256:<hex>');
    }
    expect(requests).toHaveLength(0);
  });
});

describe('audit verify', () => {
  it('reports an intact log with exit 0', async () => {
    const r = await run(['audit', 'verify']);
    expect(r.code).toBe(0);
    expect(requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/audit/verify' });
    expect(r.stdout).toBe('audit log intact: 12 events, root beefcafe, matches the signed checkpoint at size 10\n');
  });

  it('names the first broken link with exit 1', async () => {
    auditBroken = true;
    const r = await run(['audit', 'verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('seq 7');
    expect(r.stdout).toContain('evt-7');
    expect(r.stdout).toContain('hash mismatch');
  });
});

describe('global options and failures', () => {
  it('missing token is a clear error with exit 2 and no request', async () => {
    const r = await run(['status', 'p-waiting'], { PROMOTER_TOKEN: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PROMOTER_TOKEN/);
    expect(requests).toHaveLength(0);
  });

  it('--token and --url override the environment', async () => {
    const r = await run(['--token', TOKEN, 'status', 'p-waiting', '--url', baseUrl], {
      PROMOTER_TOKEN: 'wrong',
      PROMOTER_URL: 'http://127.0.0.1:9',
    });
    expect(r.code).toBe(0);
    expect(requests[0]!.auth).toBe(`Bearer ${TOKEN}`);
  });

  it('a rejected token surfaces the 401 with exit 2', async () => {
    const r = await run(['audit', 'verify'], { PROMOTER_TOKEN: 'nope' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: 401 Unauthorized: invalid or missing token');
  });

  it('an unreachable URL names the URL and exits 2', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await run(['status', 'p-1'], { PROMOTER_URL: url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot reach the promoter at ${url}: connection refused`);
  });

  it('usage errors exit 2 and --help exits 0 without exiting the process', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const missing = await run(['promote', '--image', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--to <env>' not specified/);
    const help = await run(['promote', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--idempotency-key');
    expect(help.stdout).toContain('--json');
    expect(requests).toHaveLength(0);
  });
});
