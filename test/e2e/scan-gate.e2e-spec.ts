import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanWatcher } from '../../apps/worker/src/gates/scan-watcher.js';
import { verifyWebhookSignature } from '#libs/notify/index.js';
import { importOsv, type OsvDocument } from '#libs/scanning/index.js';
import { generateCosignKeyPair, pae } from '#libs/signing/index.js';
import { MT, pushBlob, pushManifest, sha256, type Descriptor } from '../helpers/images.js';
import { layer, pushLayers, rawLayer } from '../helpers/layers.js';
import { CRITICAL_V3, osvRecord, pushAlpineImage, pushAppImage, pushDebianImage } from '../helpers/scan-images.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const fixed = (v: string) => [{ introduced: '0' }, { fixed: v }];
const fixture = (name: string) => readFileSync(new URL(`../../libs/scanning/reports/fixtures/${name}`, import.meta.url), 'utf8');
/** The fixtures' image digest, replaced by the digest of an image pushed in the test. */
const FIXTURE_DIGEST = 'sha256:4c2a0b1e6f3d5a7b9c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e';
/** A fixture report for an image pushed in the test, dated `scannedAt` (now unless given). */
function reportFor(name: string, digest: string, repo: string, scannedAt = new Date()) {
  const report = JSON.parse(
    fixture(name).replaceAll(FIXTURE_DIGEST, digest).replaceAll('registry.example.com/dev/web', `${registryHost()}/${repo}`),
  );
  if (report.SchemaVersion) report.CreatedAt = scannedAt.toISOString();
  else report.descriptor.timestamp = scannedAt.toISOString();
  return report;
}

async function* docs(records: unknown[]): AsyncGenerator<OsvDocument> {
  for (const [i, r] of records.entries()) yield { name: `r${i}.json`, bytes: Buffer.from(JSON.stringify(r)) };
}

const OPENSSL_OLD = [
  { name: 'libssl3', version: '3.0.11-1~deb12u1', source: 'openssl' },
  { name: 'openssl', version: '3.0.11-1~deb12u1' },
  { name: 'bash', version: '5.2.15-2+b2' },
];

const PASSWORD = 'scan-gate-test';
const WEBHOOK_SECRET = `hook-${randomBytes(12).toString('hex')}`;

describe('the scan gate (real registry, PostgreSQL, Redis, OSV database)', () => {
  let t: TestApp;
  let dir: string;
  let ci: string;
  let rm: string;
  let sec: string;
  let auditor: string;
  let vulnKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
  let slack: FakeSlack;
  let hooks: { server: Server; url: string; received: { headers: Record<string, string>; body: string }[] };
  const reg = () => ({ url: `http://${registryHost()}`, host: registryHost() });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scan-gate-'));
    const pair = await generateCosignKeyPair(PASSWORD);
    writeFileSync(join(dir, 'promoter.key'), pair.privateKeyPem);
    const vuln = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    vulnKey = vuln.privateKey;
    writeFileSync(join(dir, 'vuln.pub'), vuln.publicKey.export({ type: 'spki', format: 'pem' }));
    slack = await startFakeSlack();
    const received: { headers: Record<string, string>; body: string }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    hooks = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
    t = await startTestApp({
      env: {
        PROMOTER_KEY_PASSWORD: PASSWORD,
        SLACK_BOT_TOKEN: slack.token,
        SLACK_SIGNING_SECRET: 'scan-gate-signing',
        HOOK_SECRET: WEBHOOK_SECRET,
      },
      pipeline: `${localPipeline()}  - name: staging
    from: dev
    repository: local/scan-staging/{app}
    gates: { scan: { failOn: critical, maxAge: 1h } }
  - name: reports
    from: dev
    repository: local/scan-reports/{app}
    gates: { scan: { failOn: high, ignoreUnfixed: true, maxAge: 24h, sources: [trivy, grype] } }
  - name: attested
    from: dev
    repository: local/scan-attested/{app}
    gates: { scan: { failOn: critical, sources: [attestation], attestationKeys: [${join(dir, 'vuln.pub')}] } }
  - name: bound
    from: dev
    repository: local/scan-bound/{app}
    gates:
      scan: { failOn: critical, maxAge: 24h, sources: [builtin, trivy] }
      policy:
        custom:
          - name: no-critical
            expression: '!has(gates.scan) || gates.scan.counts.critical == 0'
            message: "scan says {{gates.scan.summary}}"
    approvals: { required: 2, roles: [release-manager] }
signing:
  key: { path: ${join(dir, 'promoter.key')}, passwordEnv: PROMOTER_KEY_PASSWORD }
scanning: { maxWaiver: 30d, recheckInterval: 1h }
slack:
  botTokenEnv: SLACK_BOT_TOKEN
  signingSecretEnv: SLACK_SIGNING_SECRET
  apiUrl: ${slack.apiUrl}
  channels: { staging: C0SCANSTAGING, reports: C0SCANREPORTS }
webhooks:
  - url: ${hooks.url}
    secretEnv: HOOK_SECRET
    events: [scan.new_findings]
`,
    });
    ci = await t.token('ci', ['ci']);
    rm = await t.token('rm', ['release-manager']);
    sec = await t.token('sec', ['security-reviewer']);
    auditor = await t.token('auditor', ['auditor']);
    await importOsv(
      t.app.get(DataSource),
      docs([
        osvRecord('DSA-5532-1', 'Debian:12', 'openssl', fixed('3.0.11-1~deb12u2'), { severity: CRITICAL_V3, aliases: ['CVE-2023-5363'] }),
        osvRecord('DEBIAN-CVE-2024-2', 'Debian:12', 'bash', [{ introduced: '0' }]),
        osvRecord('CVE-2024-0727', 'Alpine:v3.19', 'openssl', fixed('3.1.4-r5'), { severity: CRITICAL_V3 }),
        osvRecord('GHSA-35jh-r3h4-6jhm', 'npm', 'lodash', fixed('4.17.21'), { database_specific: { severity: 'HIGH' } }),
      ]),
      { source: 'test-1' },
    );
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await slack?.close();
    await new Promise((r) => hooks?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const promote = async (repo: string, digest: string, target: string) => {
    const res = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/${repo}@${digest}`, target });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const settled = (id: string, round = 1) =>
    eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
      return res.body.round === round && ['blocked', 'promoted', 'awaiting_approval', 'failed'].includes(res.body.status) && res.body;
    }, 20_000);
  const scanGate = (p: { gates: { gate: string }[] }) =>
    p.gates.find((g) => g.gate === 'scan') as unknown as { status: string; summary: string; evidence: Record<string, any> };
  const waive = (body: Record<string, unknown>) => t.api().post('/api/v1/waivers').set(auth(sec)).send(body);
  const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

  it('blocks a Debian image with a critical finding, then passes the same promotion once a waiver covers it', async () => {
    const image = await pushDebianImage(reg(), 'dev/deb', OPENSSL_OLD);
    const id = await promote('dev/deb', image.digest, 'staging');
    const blocked = await settled(id);
    expect(blocked.status).toBe('blocked');
    const gate = scanGate(blocked);
    expect(gate.status).toBe('failed');
    expect(gate.summary).toContain('DSA-5532-1');
    expect(gate.evidence.blocking).toEqual(
      expect.arrayContaining([
        {
          id: 'DSA-5532-1',
          package: 'libssl3',
          installedVersion: '3.0.11-1~deb12u1',
          fixedVersion: '3.0.11-1~deb12u2',
          severity: 'critical',
          source: 'builtin',
        },
        {
          id: 'DSA-5532-1',
          package: 'openssl',
          installedVersion: '3.0.11-1~deb12u1',
          fixedVersion: '3.0.11-1~deb12u2',
          severity: 'critical',
          source: 'builtin',
        },
      ]),
    );
    expect(gate.evidence.counts).toMatchObject({ critical: 2 });
    expect(Object.values(gate.evidence.counts as Record<string, number>).reduce((a, b) => a + b)).toBe(3);
    expect(gate.evidence.dbImportedAt).toEqual(expect.any(String));
    expect(gate.evidence.sources).toEqual([expect.objectContaining({ source: 'builtin', origin: 'scanner' })]);
    expect(gate.evidence.sbom.packages).toBe(3);

    // Waived by an alias (CVE id) for the source repository; the re-evaluation passes and the image is promoted.
    const waiver = await waive({
      vulnerabilityId: 'CVE-2023-5363',
      scope: { repository: `${registryHost()}/dev/deb` },
      justification: 'TLS is terminated by the ingress; the vulnerable code path is unused.',
      expiresAt: inDays(7),
      vex: { status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
    });
    expect(waiver.status).toBe(201);
    expect(waiver.body).toMatchObject({
      vulnerabilityId: 'CVE-2023-5363',
      active: true,
      vex: { status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
    });
    expect((await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm))).status).toBe(202);
    const passed = await settled(id, 2);
    expect(passed.status).toBe('promoted');
    const after = scanGate(passed);
    expect(after.status).toBe('passed');
    expect(after.evidence.blocking).toEqual([]);
    expect(after.evidence.waived).toHaveLength(2);
    expect(after.evidence.waived[0]).toMatchObject({
      waiverId: waiver.body.id,
      vulnerabilityId: 'CVE-2023-5363',
      finding: { id: 'DSA-5532-1' },
    });

    const { rows } = await t.db.query(`SELECT actor, data FROM audit_events WHERE action = 'waiver.created' AND subject = $1`, [
      `waiver:${waiver.body.id}`,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].data).toMatchObject({ vulnerabilityId: 'CVE-2023-5363', justification: expect.stringContaining('ingress') });

    // The promote step attests the SBOM the scan kept, with the VSA and the promotion record, before
    // the promotion is `promoted`; the scan watcher's follow-up then finds it there and adds nothing.
    const { rows: promotedEvents } = await t.db.query(
      `SELECT data FROM audit_events WHERE action = 'promotion.promoted' AND subject = $1`,
      [`promotion:${id}`],
    );
    expect(
      promotedEvents[0].data.signing.attestations.map((a: { predicateType: string; status: string }) => [a.predicateType, a.status]),
    ).toEqual([
      ['https://slsa.dev/verification_summary/v1', 'added'],
      ['https://image-promoter.dev/promotion/v1', 'added'],
      ['https://cyclonedx.org/bom', 'added'],
    ]);
    await t.app.get(ScanWatcher).tick();
    const sbom = await eventually(async () => {
      const found = await t.db.query(`SELECT status, detail FROM sbom_attestations WHERE promotion_id = $1`, [id]);
      return found.rows.length > 0 && found;
    });
    expect(sbom.rows).toEqual([
      { status: 'attested', detail: expect.objectContaining({ predicateType: 'https://cyclonedx.org/bom', status: 'present' }) },
    ]);
    const att = await fetch(`http://${registryHost()}/v2/scan-staging/deb/manifests/sha256-${image.digest.slice(7)}.att`, {
      headers: { Accept: MT.ociManifest },
    });
    const layers = ((await att.json()) as { layers: unknown }).layers as { annotations: Record<string, string> }[];
    expect(layers.map((l) => l.annotations.predicateType).filter((t) => t === 'https://cyclonedx.org/bom')).toHaveLength(1);
  });

  it('a waiver that has expired stops counting; a revoked one too, and the change is audited', async () => {
    const repo = `${registryHost()}/dev/deb-expiry`;
    const image = await pushDebianImage(reg(), 'dev/deb-expiry', [{ name: 'openssl', version: '3.0.11-1~deb12u1' }]);
    const id = await promote('dev/deb-expiry', image.digest, 'staging');
    expect((await settled(id)).status).toBe('blocked');
    const expiresAt = new Date(Date.now() + 2000);
    const waiver = await waive({
      vulnerabilityId: 'DSA-5532-1',
      scope: { repository: repo },
      justification: 'short test waiver for expiry',
      expiresAt: expiresAt.toISOString(),
    });
    expect(waiver.status).toBe(201);
    const finding = async () => {
      const res = await t.api().get(`/api/v1/images/${image.digest}/findings`).set(auth(auditor));
      expect(res.status).toBe(200);
      return res.body.results[0].findings.find((f: { id: string }) => f.id === 'DSA-5532-1');
    };
    // While it counts, the stored finding shows it.
    expect((await finding()).waiver).toMatchObject({ id: waiver.body.id, expiresAt: expiresAt.toISOString() });

    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now() + 100)));
    expect((await finding()).waiver).toBeNull();
    // The gate, run again after expiry, applies no waiver: still blocked.
    expect((await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm))).status).toBe(202);
    const blocked = await settled(id, 2);
    expect(blocked.status).toBe('blocked');
    expect(scanGate(blocked).evidence.waived).toEqual([]);
    expect(scanGate(blocked).evidence.blocking).toEqual([expect.objectContaining({ id: 'DSA-5532-1', package: 'openssl' })]);
    const inactive = await t.api().get('/api/v1/waivers?active=false').set(auth(auditor));
    expect(inactive.body.map((w: { id: string }) => w.id)).toContain(waiver.body.id);
    const active = await t.api().get('/api/v1/waivers?active=true').set(auth(auditor));
    expect(active.body.map((w: { id: string }) => w.id)).not.toContain(waiver.body.id);

    const longer = await waive({
      vulnerabilityId: 'DSA-5532-1',
      scope: { all: true },
      justification: 'to be revoked right away',
      expiresAt: inDays(1),
    });
    const revoked = await t.api().delete(`/api/v1/waivers/${longer.body.id}`).set(auth(sec));
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ active: false, revokedBy: expect.stringMatching(/^token:/) });
    expect((await t.api().delete(`/api/v1/waivers/${longer.body.id}`).set(auth(sec))).status).toBe(409);
    const { rows } = await t.db.query(`SELECT action FROM audit_events WHERE subject = $1 ORDER BY seq`, [`waiver:${longer.body.id}`]);
    expect(rows.map((r: { action: string }) => r.action)).toEqual(['waiver.created', 'waiver.revoked']);
  });

  it('refuses bad waivers: too long, past, unknown VEX justification, wrong role', async () => {
    const base = { vulnerabilityId: 'CVE-2024-1', scope: { all: true }, justification: 'a sufficiently long reason' };
    const tooLong = await waive({ ...base, expiresAt: inDays(31) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toContain('scanning.maxWaiver');
    expect((await waive({ ...base, expiresAt: '2020-01-01T00:00:00Z' })).status).toBe(400);
    expect((await waive({ ...base })).body.message).toContain('expiresAt');
    const vex = await waive({ ...base, expiresAt: inDays(1), vex: { status: 'not_affected' } });
    expect(vex.status).toBe(400);
    expect(vex.body.message).toContain('vex.justification');
    expect(
      (
        await t
          .api()
          .post('/api/v1/waivers')
          .set(auth(ci))
          .send({ ...base, expiresAt: inDays(1) })
      ).status,
    ).toBe(403);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM waivers WHERE vulnerability_id = 'CVE-2024-1'`);
    expect(rows[0].n).toBe(0);
  });

  it('scans Alpine (apk) and npm images: a critical apk finding blocks; an npm high finding does not block failOn critical', async () => {
    const alpine = await pushAlpineImage(reg(), 'dev/alp', [{ name: 'libssl3', version: '3.1.4-r4', origin: 'openssl' }]);
    const app = await pushAppImage(reg(), 'dev/node', [{ name: 'lodash', version: '4.17.20' }], []);
    const [a, n] = await Promise.all([promote('dev/alp', alpine.digest, 'staging'), promote('dev/node', app.digest, 'staging')]);
    const alp = await settled(a);
    expect(alp.status).toBe('blocked');
    expect(scanGate(alp).evidence.blocking).toEqual([
      expect.objectContaining({ id: 'CVE-2024-0727', package: 'libssl3', fixedVersion: '3.1.4-r5', severity: 'critical' }),
    ]);
    const node = await settled(n);
    expect(node.status).toBe('promoted');
    expect(scanGate(node).evidence.counts).toMatchObject({ high: 1, critical: 0 });
  });

  it('re-matches promoted images after a new database import and reports new blocking findings without undoing the promotion', async () => {
    const app = await pushAppImage(reg(), 'dev/node2', [{ name: 'minimist', version: '1.2.5' }], []);
    const id = await promote('dev/node2', app.digest, 'staging');
    expect((await settled(id)).status).toBe('promoted');
    const watcher = t.app.get(ScanWatcher);
    await watcher.rematch(); // the first import: nothing new anywhere
    await importOsv(
      t.app.get(DataSource),
      docs([
        osvRecord('DSA-5532-1', 'Debian:12', 'openssl', fixed('3.0.11-1~deb12u2'), { severity: CRITICAL_V3 }),
        osvRecord('GHSA-xvch-5gv4-984h', 'npm', 'minimist', fixed('1.2.6'), { severity: CRITICAL_V3 }),
      ]),
      { source: 'test-2' },
    );
    const report = await watcher.rematch();
    const mine = report!.images.find((i) => i.promotionId === id)!;
    expect(mine).toMatchObject({ status: 'rematched', newBlocking: 1, environment: 'staging' });
    expect(await watcher.rematch()).toBeNull(); // once per import

    const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE action = 'scan.new_findings' AND subject = $1`, [
      `promotion:${id}`,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].data.findings).toEqual([
      expect.objectContaining({ id: 'GHSA-xvch-5gv4-984h', package: 'minimist', severity: 'critical', fixedVersion: '1.2.6' }),
    ]);
    const queue = new Queue('notify', { connection: { url: t.config.process.redisUrl! }, prefix: t.config.process.redisPrefix });
    try {
      const job = await queue.getJob(`scan-new-findings-${id}-${report!.importId}`);
      expect(job?.name).toBe('scan-new-findings');
      expect(job?.data).toMatchObject({ promotionId: id, environment: 'staging', digest: app.digest, failOn: 'critical' });
    } finally {
      await queue.close();
    }
    const still = await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci));
    expect(still.body.status).toBe('promoted');

    // The notify job: a notice in the channel of the environment the image is in…
    const notice = await eventually(async () =>
      slack
        .ok('chat.postMessage')
        .find((c) => c.args.blocks?.[0]?.text?.text === 'New vulnerabilities in staging' && JSON.stringify(c.args.blocks).includes(id)),
    );
    expect(notice.args.channel).toBe('C0SCANSTAGING');
    expect(notice.args.text).toContain('1 new blocking vulnerability finding in');
    const blocks = JSON.stringify(notice.args.blocks);
    expect(blocks).toContain(`@sha256:${app.digest.slice(7, 19)}`);
    expect(blocks).toContain('• *GHSA-xvch-5gv4-984h* (critical) `minimist` 1.2.5 → 1.2.6');
    // …and one signed webhook delivery of scan.new_findings, whose delivery id is the audit event's.
    const delivery = await eventually(async () =>
      hooks.received.find((r) => r.headers['x-promoter-event'] === 'scan.new_findings' && r.body.includes(id)),
    );
    expect(
      verifyWebhookSignature(
        WEBHOOK_SECRET,
        delivery.headers['x-promoter-timestamp']!,
        delivery.body,
        delivery.headers['x-promoter-signature']!,
      ),
    ).toBe(true);
    const [audited] = (
      await t.db.query(`SELECT id FROM audit_events WHERE action = 'scan.new_findings' AND subject = $1`, [`promotion:${id}`])
    ).rows;
    const payload = JSON.parse(delivery.body);
    expect(delivery.headers['x-promoter-delivery']).toBe(audited.id);
    expect(payload).toMatchObject({
      event: 'scan.new_findings',
      deliveryId: audited.id,
      promotion: { id, status: 'promoted', target: 'staging' },
      newFindings: {
        environment: 'staging',
        digest: app.digest,
        failOn: 'critical',
        importId: report!.importId,
        findings: [
          { id: 'GHSA-xvch-5gv4-984h', package: 'minimist', installedVersion: '1.2.5', fixedVersion: '1.2.6', severity: 'critical' },
        ],
      },
    });
    // The hook subscribed to scan.new_findings only: no promotion events reached it.
    expect(hooks.received.every((r) => r.headers['x-promoter-event'] === 'scan.new_findings')).toBe(true);
  });

  it('malformed layers (not a tar, truncated, ../ paths) and a status linked out of the root are gate errors with the reason; 10,000 packages are read; the worker carries on', async () => {
    const notTar = await pushLayers(reg(), 'dev/broken', [
      rawLayer(Buffer.from('this is not a tar stream at all'.repeat(40)), 'application/vnd.oci.image.layer.v1.tar'),
    ]);
    const truncated = await layer([{ name: 'var/lib/dpkg/status', content: 'Package: x\n'.repeat(2000) }]);
    const cut = await pushLayers(reg(), 'dev/broken', [
      rawLayer(truncated.bytes.subarray(0, truncated.bytes.length / 2), truncated.mediaType, truncated.diffId),
    ]);
    const escape = await pushLayers(reg(), 'dev/broken', [await layer([{ name: '../../etc/cron.d/evil', content: '* * * * * root sh' }])]);
    for (const digest of [notTar.digest, cut.digest, escape.digest]) {
      const p = await settled(await promote('dev/broken', digest, 'staging'));
      expect(p.status).toBe('blocked');
      expect(scanGate(p).status).toBe('error');
      expect(scanGate(p).summary).toMatch(/built-in scanner cannot read .*: \S+/);
      expect(scanGate(p).evidence.code).toEqual(expect.any(String));
    }
    // A status file symlinked out of the root resolves inside the image, where it names nothing: the
    // database cannot be read, so the gate fails closed naming it. 10,000 packages are read, not a crash.
    const outside = await pushLayers(reg(), 'dev/broken', [
      await layer([
        { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
        { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '../../../../../../../../etc/shadow' },
      ]),
    ]);
    const dangling = await settled(await promote('dev/broken', outside.digest, 'staging'));
    expect(scanGate(dangling)).toMatchObject({ status: 'error', evidence: { code: 'unreadable_file' } });
    expect(scanGate(dangling).summary).toContain(
      '/var/lib/dpkg/status cannot be read: a symlink to "../../../../../../../../etc/shadow", which does not resolve inside the image',
    );
    const many = await pushDebianImage(
      reg(),
      'dev/broken',
      Array.from({ length: 10_000 }, (_, i) => ({ name: `pkg${i}`, version: `1.0-${i}` })),
    );
    const p = await settled(await promote('dev/broken', many.digest, 'staging'));
    expect(scanGate(p)).toMatchObject({ status: 'passed', evidence: { sbom: { packages: 10_000 } } });
    const ok = await pushAppImage(reg(), 'dev/after-broken', [{ name: 'after-broken', version: '1.0.0' }], []);
    expect((await settled(await promote('dev/after-broken', ok.digest, 'staging'))).status).toBe('promoted');
  });

  it('ingests Trivy and Grype reports in their JSON formats and gates on them', async () => {
    const image = await pushAppImage(reg(), 'dev/web', [{ name: 'web-app', version: '1.0.0' }], []);
    const trivy = await t
      .api()
      .post(`/api/v1/images/${image.digest}/scans`)
      .set(auth(ci))
      .send({ format: 'trivy', report: reportFor('trivy-debian.json', image.digest, 'dev/web') });
    expect(trivy.status).toBe(201);
    expect(trivy.body).toMatchObject({ source: 'trivy', findings: 4, counts: { critical: 1, high: 2, low: 1 }, created: true });
    const grypeReport = reportFor('grype-debian.json', image.digest, 'dev/web');
    const grype = await t.api().post(`/api/v1/images/${image.digest}/scans`).set(auth(ci)).send({ report: grypeReport });
    expect(grype.status).toBe(201);
    expect(grype.body).toMatchObject({ source: 'grype', scanner: { name: 'grype', version: '0.84.0' } });
    const again = await t.api().post(`/api/v1/images/${image.digest}/scans`).set(auth(ci)).send({ report: grypeReport });
    expect(again.body).toMatchObject({ id: grype.body.id, created: false });

    const listed = await t.api().get(`/api/v1/images/${image.digest}/findings`).set(auth(auditor));
    expect(listed.body.results.map((r: { source: string }) => r.source).sort()).toEqual(['grype', 'trivy']);

    // failOn high with ignoreUnfixed: the unfixed libtinfo6 finding passes, the fixed critical and high ones block.
    const p = await settled(await promote('dev/web', image.digest, 'reports'));
    expect(p.status).toBe('blocked');
    const gate = scanGate(p);
    expect(gate.evidence.sources.map((s: { source: string }) => s.source).sort()).toEqual(['grype', 'trivy']);
    expect(gate.evidence.blocking.map((b: { id: string; source: string }) => `${b.id}/${b.source}`).sort()).toEqual([
      'CVE-2021-23337/trivy',
      'CVE-2024-5535/grype',
      'CVE-2024-5535/trivy',
      'GHSA-35jh-r3h4-6jhm/grype',
    ]);
    expect(gate.evidence.ignoredUnfixed).toBe(1);

    // Only a report older than maxAge (24h) for another digest: no trusted source, failing closed.
    const bare = await pushAppImage(reg(), 'dev/bare', [{ name: 'x', version: '1.0.0' }], []);
    const old = reportFor('trivy-debian.json', bare.digest, 'dev/bare', new Date(Date.now() - 2 * 86_400_000));
    expect((await t.api().post(`/api/v1/images/${bare.digest}/scans`).set(auth(ci)).send({ report: old })).status).toBe(201);
    const none = await settled(await promote('dev/bare', bare.digest, 'reports'));
    expect(scanGate(none).status).toBe('failed');
    expect(scanGate(none).summary).toContain('no trusted scan source (trivy, grype) has a result newer than 24h');
    expect(scanGate(none).evidence.missing).toEqual([
      expect.stringContaining('no trivy report scanned since'),
      expect.stringContaining('no grype report scanned since'),
    ]);
  });

  it('refuses bad reports with a 4xx naming the problem, and stores nothing', async () => {
    const image = await pushAppImage(reg(), 'dev/bad-reports', [{ name: 'bad-reports', version: '1.0.0' }], []);
    const post = (body: unknown, token = ci) =>
      t
        .api()
        .post(`/api/v1/images/${image.digest}/scans`)
        .set(auth(token))
        .send(body as object);
    const other = 'sha256:' + 'ab'.repeat(32);
    const wrong = await post({ report: reportFor('trivy-debian.json', other, 'dev/bad-reports') });
    expect(wrong.status).toBe(422);
    expect(wrong.body.message).toContain(`not ${image.digest}`);
    const broken = reportFor('grype-debian.json', image.digest, 'dev/bad-reports');
    delete broken.matches[0].artifact.version;
    const malformed = await post({ format: 'grype', report: broken });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toContain('matches[0].artifact.version');
    expect((await post({ report: { hello: 'world' } })).body.message).toContain('not a Trivy JSON report');
    expect((await post({ format: 'sarif', report: {} })).status).toBe(400);
    expect((await post({ report: 'text' })).status).toBe(400);
    expect((await t.api().post('/api/v1/images/latest/scans').set(auth(ci)).send({ report: {} })).status).toBe(400);
    expect((await post({ report: reportFor('trivy-debian.json', image.digest, 'dev/bad-reports') }, auditor)).status).toBe(403);
    const huge = reportFor('trivy-debian.json', image.digest, 'dev/bad-reports');
    huge.Results[0].Vulnerabilities[0].Description = 'x'.repeat(17 * 1024 * 1024);
    expect((await post({ report: huge })).status).toBe(413);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM scan_results WHERE digest = $1', [image.digest]);
    expect(rows[0].n).toBe(0);
    // Reports of a few MiB, as large images give, are accepted (the API's 1 MiB limit is raised for this route only).
    huge.Results[0].Vulnerabilities[0].Description = 'x'.repeat(3 * 1024 * 1024);
    expect((await post({ report: huge })).status).toBe(201);
    expect(
      (
        await t
          .api()
          .post('/api/v1/waivers')
          .set(auth(sec))
          .send({ justification: 'x'.repeat(2 * 1024 * 1024) })
      ).status,
    ).toBe(413);
  });

  it('trusts vulnerability attestations attached to the image only when a trusted key signed them', async () => {
    const image = await pushAppImage(reg(), 'dev/attested', [{ name: 'attested', version: '1.0.0' }], []);
    const statement = vulnStatement(image.digest, 'dev/attested');
    const untrusted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    // First only an attestation signed by an unknown key: no trusted source.
    await pushVulnAttestation('dev/attested', image.digest, statement, [untrusted]);
    const first = await settled(await promote('dev/attested', image.digest, 'attested'));
    expect(scanGate(first).status).toBe('failed');
    expect(scanGate(first).evidence.missing.join('\n')).toContain('refused');
    // Then one by the trusted key: its critical finding blocks, and the evidence says which key signed.
    await pushVulnAttestation('dev/attested', image.digest, statement, [untrusted, vulnKey]);
    expect((await t.api().post(`/api/v1/promotions/${first.id}/reevaluate`).set(auth(rm))).status).toBe(202);
    const second = await settled(first.id, 2);
    const gate = scanGate(second);
    expect(gate.status).toBe('failed');
    expect(gate.evidence.sources).toEqual([
      expect.objectContaining({ source: 'attestation', origin: 'attached', signedBy: expect.stringContaining('vuln.pub') }),
    ]);
    expect(gate.evidence.blocking.map((b: { id: string }) => b.id)).toEqual(['CVE-2024-5535']);
  });

  it('counts an uploaded attestation only when a trusted key signed it', async () => {
    const image = await pushAppImage(reg(), 'dev/uploaded-att', [{ name: 'uploaded-att', version: '1.0.0' }], []);
    const statement = vulnStatement(image.digest, 'dev/uploaded-att');
    const untrusted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const upload = (key: typeof untrusted) =>
      t
        .api()
        .post(`/api/v1/images/${image.digest}/scans`)
        .set(auth(ci))
        .send({ format: 'attestation', report: envelope(statement, key) });
    expect((await upload(untrusted)).status).toBe(201);
    const first = await settled(await promote('dev/uploaded-att', image.digest, 'attested'));
    expect(scanGate(first).status).toBe('failed');
    expect(scanGate(first).evidence.missing.join('\n')).toContain('is not signed by a key in gates.scan.attestationKeys');
    expect((await upload(vulnKey)).status).toBe(201);
    expect((await t.api().post(`/api/v1/promotions/${first.id}/reevaluate`).set(auth(rm))).status).toBe(202);
    const gate = scanGate(await settled(first.id, 2));
    expect(gate.evidence.sources).toEqual([
      expect.objectContaining({ source: 'attestation', origin: 'upload', signedBy: expect.stringContaining('vuln.pub') }),
    ]);
    expect(gate.evidence.blocking.map((b: { id: string }) => b.id)).toEqual(['CVE-2024-5535']);
    // A bare (unsigned) statement is refused outright.
    const bare = await t.api().post(`/api/v1/images/${image.digest}/scans`).set(auth(ci)).send({ report: statement });
    expect(bare.status).toBe(422);
    expect(bare.body.message).toContain('DSSE envelope');
  });

  it('keeps approvals through a re-evaluation on unchanged inputs (new scan ids and times), and makes them stale when a finding is new', async () => {
    const image = await pushDebianImage(reg(), 'dev/steady', [{ name: 'bash', version: '5.2.15-2+b2' }]);
    // Trivy's fixture without its critical finding: the image passes failOn critical, with findings to show.
    const report = (scannedAt: Date, extra = false) => {
      const r = reportFor('trivy-debian.json', image.digest, 'dev/steady', scannedAt);
      for (const result of r.Results)
        result.Vulnerabilities = result.Vulnerabilities.filter((v: { Severity: string }) => v.Severity !== 'CRITICAL');
      if (extra)
        r.Results[0].Vulnerabilities.push({ ...r.Results[0].Vulnerabilities[0], VulnerabilityID: 'CVE-2026-4242', Severity: 'MEDIUM' });
      return r;
    };
    const upload = async (body: unknown) =>
      expect((await t.api().post(`/api/v1/images/${image.digest}/scans`).set(auth(ci)).send({ report: body })).status).toBe(201);
    await upload(report(new Date(Date.now() - 60_000)));
    const id = await promote('dev/steady', image.digest, 'bound');
    const first = await settled(id);
    expect(first.status).toBe('awaiting_approval');
    const approved = await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm)).send({ decision: 'approve' });
    expect(approved.status).toBe(201);
    expect(approved.body.approval.approvers).toEqual(['rm']);

    // The same report uploaded again (a new scan, newer), and the built-in scanner runs again: nothing a decision rests on changed.
    await upload(report(new Date(Date.now() - 30_000)));
    await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm)).expect(202);
    const second = await settled(id, 2);
    expect(second.status).toBe('awaiting_approval');
    const scanIds = (p: typeof first) =>
      scanGate(p)
        .evidence.sources.map((u: { scanId: string }) => u.scanId)
        .sort();
    expect(scanIds(second)).not.toEqual(scanIds(first));
    for (const gate of ['scan', 'policy']) {
      const before = first.gates.find((g: { gate: string }) => g.gate === gate);
      const after = second.gates.find((g: { gate: string }) => g.gate === gate);
      expect(after.evidenceDigest).toBe(before.evidenceDigest);
    }
    expect(second.evidenceDigest).toBe(first.evidenceDigest);
    expect(second.approval).toMatchObject({ approvers: ['rm'], needed: 1, stale: 0 });
    expect(second.approvals[0].counts).toBe(true);

    // A finding that was not there before: the approval was given on other evidence.
    await upload(report(new Date(), true));
    await t.api().post(`/api/v1/promotions/${id}/reevaluate`).set(auth(rm)).expect(202);
    const third = await settled(id, 3);
    expect(third.status).toBe('awaiting_approval');
    expect(third.evidenceDigest).not.toBe(first.evidenceDigest);
    expect(scanGate(third).evidence.basis.findings).not.toBe(scanGate(first).evidence.basis.findings);
    expect(third.approval).toMatchObject({ approvers: [], needed: 2, stale: 1 });
  });

  it('fails closed when the vulnerability database is older than maxAge', async () => {
    const image = await pushAppImage(reg(), 'dev/stale-db', [{ name: 'stale-db', version: '1.0.0' }], []);
    const { rows } = await t.db.query('SELECT id, imported_at FROM vuln_imports ORDER BY id DESC LIMIT 1');
    await t.db.query(`UPDATE vuln_imports SET imported_at = now() - interval '2 hours' WHERE id = $1`, [rows[0].id]);
    try {
      const p = await settled(await promote('dev/stale-db', image.digest, 'staging'));
      expect(p.status).toBe('blocked');
      expect(scanGate(p).status).toBe('failed');
      expect(scanGate(p).summary).toContain('longer ago than maxAge 1h');
    } finally {
      await t.db.query('UPDATE vuln_imports SET imported_at = $2 WHERE id = $1', [rows[0].id, rows[0].imported_at]);
    }
  });

  function vulnStatement(digest: string, repo: string) {
    return {
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
      subject: [{ name: `${registryHost()}/${repo}`, digest: { sha256: digest.slice(7) } }],
      predicate: {
        invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
        scanner: {
          uri: 'pkg:github/anchore/grype@0.84.0',
          version: '0.84.0',
          db: { uri: '', version: '' },
          result: reportFor('grype-debian.json', digest, repo),
        },
        metadata: { scanStartedOn: new Date(Date.now() - 5000).toISOString(), scanFinishedOn: new Date().toISOString() },
      },
    };
  }

  function envelope(statement: object, key: ReturnType<typeof generateKeyPairSync>['privateKey']) {
    const payload = Buffer.from(JSON.stringify(statement));
    const sig = sign('sha256', pae('application/vnd.in-toto+json', payload), key).toString('base64');
    return { payloadType: 'application/vnd.in-toto+json', payload: payload.toString('base64'), signatures: [{ keyid: '', sig }] };
  }

  /** A `.att` manifest with one DSSE layer per key, as `cosign attest --type vuln` writes them. */
  async function pushVulnAttestation(
    repo: string,
    digest: string,
    statement: object,
    keys: ReturnType<typeof generateKeyPairSync>['privateKey'][],
  ) {
    const payload = Buffer.from(JSON.stringify(statement));
    const layers: Descriptor[] = [];
    for (const key of keys) {
      const sig = sign('sha256', pae('application/vnd.in-toto+json', payload), key).toString('base64');
      const envelope = Buffer.from(
        JSON.stringify({
          payloadType: 'application/vnd.in-toto+json',
          payload: payload.toString('base64'),
          signatures: [{ keyid: '', sig }],
        }),
      );
      await pushBlob(reg(), repo, envelope);
      layers.push({
        mediaType: 'application/vnd.dsse.envelope.v1+json',
        digest: sha256(envelope),
        size: envelope.length,
        annotations: { 'dev.cosignproject.cosign/signature': '', predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1' },
      });
    }
    const config = Buffer.from(
      JSON.stringify({
        architecture: '',
        created: '0001-01-01T00:00:00Z',
        history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
        os: '',
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        config: {},
      }),
    );
    await pushBlob(reg(), repo, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, size: config.length, digest: sha256(config) },
        layers,
      }),
    );
    await pushManifest(reg(), repo, `sha256-${digest.slice(7)}.att`, manifest, MT.ociManifest);
  }
});
