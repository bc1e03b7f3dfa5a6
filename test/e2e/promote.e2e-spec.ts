import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { ReconcilerService } from '#libs/workflow/index.js';
import { getManifest, pushCosignAttachment, pushImage, pushIndex } from '../helpers/images.js';
import { faultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../helpers/registry.js';
import { eventually, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

let remote: TestRegistry;
let flaky: FaultProxy;
let broken = false;
let t: TestApp;
let ci: string;
let rm: string;
const local = () => ({ url: `http://${registryHost()}` });

beforeAll(async () => {
  remote = await startRegistry();
  // In front of the remote registry: every request fails with 503 while `broken` is set.
  flaky = await faultProxy(remote.url, [{ match: () => broken, fault: { type: 'status', status: 503 } }]);
  t = await startTestApp({
    pipeline: `
registries:
  - name: local
    url: http://${registryHost()}
  - name: remote
    url: ${remote.url}
  - name: flaky
    url: ${flaky.url}
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
  - name: prod
    from: staging
    repository: local/prod/{app}
  - name: mirror
    from: dev
    repository: remote/mirror/{app}
  - name: edge
    from: dev
    repository: flaky/edge/{app}
  - name: lapsing
    from: dev
    repository: flaky/lapsing/{app}
    approvals: { required: 1, roles: [release-manager], expiresAfter: 1s }
  - name: signed
    from: dev
    repository: remote/signed/{app}
    tags: [stable, current]
    copyAttachments: true
`,
  });
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
});
afterAll(async () => {
  await t?.close();
  await flaky?.stop();
  await remote?.stop();
});

async function promote(image: string, target: string, until = 'promoted') {
  const created = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image, target });
  expect(created.status).toBe(202);
  return eventually(async () => {
    const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
    return res.body.status === until && res.body;
  }, 20_000);
}

async function promotedEvent(id: string) {
  const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted'`, [
    `promotion:${id}`,
  ]);
  expect(rows).toHaveLength(1);
  return rows[0].data;
}

describe('the promote step', () => {
  it('mounts blobs within one registry, sets the tag, and leaves an image a real client reads whole', async () => {
    const image = await pushImage(local(), 'dev/shop', { tag: '2.0.1', layers: 3 });
    const done = await promote(`${registryHost()}/dev/shop:2.0.1`, 'staging');
    expect(done.digest).toBe(image.digest);
    const event = await promotedEvent(done.id);
    expect(event).toMatchObject({
      target: `${registryHost()}/staging/shop@${image.digest}`,
      tags: ['2.0.1'],
      blobsMounted: 4,
      blobsCopied: 0,
    });

    const byTag = await getManifest(local(), 'staging/shop', '2.0.1');
    expect(byTag.digest).toBe(image.digest);
    expect(byTag.bytes.equals(image.bytes)).toBe(true);
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--raw',
      `docker://${registryHost()}/staging/shop@${image.digest}`,
    ]);
    expect(Buffer.from(stdout).equals(image.bytes)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'skopeo-'));
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registryHost()}/staging/shop:2.0.1`, `dir:${dir}`]);
  });

  it('copies across registries byte for byte, a multi-arch index whole', async () => {
    const index = await pushIndex(local(), 'dev/multi', { tag: 'v1' });
    const done = await promote(`${registryHost()}/dev/multi:v1`, 'mirror');
    const event = await promotedEvent(done.id);
    expect(event).toMatchObject({ manifests: 3, blobsMounted: 0 });
    expect(event.blobsCopied).toBeGreaterThan(0);
    const copied = await getManifest({ url: remote.url }, 'mirror/multi', index.digest);
    expect(copied.bytes.equals(index.bytes)).toBe(true);
    for (const child of index.children) {
      expect((await getManifest({ url: remote.url }, 'mirror/multi', child.digest)).status).toBe(200);
    }
    await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${remote.host}/mirror/multi:v1`]);
  });

  it('lets only digests promoted into staging go on to prod', async () => {
    const image = await pushImage(local(), 'dev/chain', { format: 'docker' });
    const staged = await promote(`${registryHost()}/dev/chain@${image.digest}`, 'staging');
    expect(staged.status).toBe('promoted');
    const prod = await promote(`${registryHost()}/staging/chain@${image.digest}`, 'prod');
    expect((await getManifest(local(), 'prod/chain', prod.digest)).bytes.equals(image.bytes)).toBe(true);
    const envs = await t.api().get('/api/v1/environments').set(auth(ci));
    expect(envs.body.find((e: { name: string }) => e.name === 'prod').current).toEqual([
      expect.objectContaining({ app: 'chain', digest: image.digest, promotionId: prod.id }),
    ]);
  });

  it('finishes a copy cut off half-way when the reconciler queues it again', async () => {
    const image = await pushImage(local(), 'dev/resume');
    const approved = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/resume@${image.digest}`, target: 'staging' });
    const done = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${approved.body.id}`).set(auth(ci));
      return res.body.status === 'promoted' && res.body;
    });
    // As if the worker died after claiming it: back to promoting, with the copy already in place.
    await t.db.query(`UPDATE promotions SET status = 'promoting' WHERE id = $1`, [done.id]);
    const report = await t.app.get(ReconcilerService).run();
    expect(report.copies).toBeGreaterThanOrEqual(1);
    await eventually(async () => (await t.api().get(`/api/v1/promotions/${done.id}`).set(auth(ci))).body.status === 'promoted');
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted'`, [
      `promotion:${done.id}`,
    ]);
    expect(rows[0].n).toBe(2);
    expect((await getManifest(local(), 'staging/resume', image.digest)).bytes.equals(image.bytes)).toBe(true);
  });

  it("sets the environment's tags and carries signatures and attestations along when it asks for them", async () => {
    const image = await pushImage(local(), 'dev/signed', { tag: 'v3' });
    const sig = await pushCosignAttachment(local(), 'dev/signed', image.digest, 'sig');
    const att = await pushCosignAttachment(local(), 'dev/signed', image.digest, 'att');
    const done = await promote(`${registryHost()}/dev/signed:v3`, 'signed');
    const event = await promotedEvent(done.id);
    expect(event.tags.sort()).toEqual(['current', 'stable', 'v3']);
    expect(event.attachments.map((a: { kind: string; tag: string }) => [a.kind, a.tag])).toEqual(
      expect.arrayContaining([
        ['signature', sig.tag],
        ['attestation', att.tag],
      ]),
    );
    const target = { url: remote.url };
    for (const tag of ['v3', 'stable', 'current']) expect((await getManifest(target, 'signed/signed', tag)).digest).toBe(image.digest);
    expect((await getManifest(target, 'signed/signed', sig.tag)).digest).toBe(sig.digest);
    expect((await getManifest(target, 'signed/signed', att.tag)).digest).toBe(att.digest);
    // Environments that do not ask get the image alone.
    const plain = await pushImage(local(), 'dev/unsigned');
    await pushCosignAttachment(local(), 'dev/unsigned', plain.digest, 'sig');
    await promote(`${registryHost()}/dev/unsigned@${plain.digest}`, 'mirror');
    expect((await getManifest(target, 'mirror/unsigned', `sha256-${plain.digest.slice(7)}.sig`)).status).toBe(404);
  });

  it('ends failed with the registry error when the copy keeps failing, and a release manager can retry it', async () => {
    const image = await pushImage(local(), 'dev/edge');
    broken = true;
    const failed = await promote(`${registryHost()}/dev/edge@${image.digest}`, 'edge', 'failed');
    const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.failed'`, [
      `promotion:${failed.id}`,
    ]);
    expect(rows[0].data.error).toMatch(/503/);
    // Why it failed is on the promotion itself, for every reader (ci here), not only in the audit log.
    expect(failed.lastError).toMatchObject({ step: 'copy', message: expect.stringMatching(/503/), attempt: expect.any(Number) });
    expect(failed.lastError.attempt).toBeGreaterThanOrEqual(1);
    expect(Date.parse(failed.lastError.at)).not.toBeNaN();
    const listed = await t.api().get('/api/v1/promotions').query({ status: 'failed' }).set(auth(ci));
    expect(listed.body.items.find((p: { id: string }) => p.id === failed.id).lastError).toEqual(failed.lastError);

    expect((await t.api().post(`/api/v1/promotions/${failed.id}/retry`).set(auth(ci))).status).toBe(403);
    broken = false;
    // Retried from the CLI, as a release manager would.
    await t.http.listen(0, '127.0.0.1');
    const { port } = t.http.getHttpServer().address() as AddressInfo;
    let status = '';
    expect(
      await runCli(['status', failed.id], {
        stdout: (s) => (status += s),
        stderr: (s) => (status += s),
        env: { PROMOTER_URL: `http://127.0.0.1:${port}`, PROMOTER_TOKEN: ci },
      }),
    ).toBe(1);
    expect(status).toMatch(/last error: copy, attempt \d+ at .*503/);
    expect(status).toMatch(/still needed: .*copy failed: .*503/);
    let out = '';
    const code = await runCli(['retry', failed.id, '--json'], {
      stdout: (s) => (out += s),
      stderr: (s) => (out += s),
      env: { PROMOTER_URL: `http://127.0.0.1:${port}`, PROMOTER_TOKEN: rm },
    });
    expect(code).toBe(0);
    expect(JSON.parse(out).status).toBe('approved');
    await eventually(async () => (await t.api().get(`/api/v1/promotions/${failed.id}`).set(auth(ci))).body.status === 'promoted', 20_000);
    expect((await getManifest({ url: remote.url }, 'edge/edge', image.digest)).status).toBe(200);
    const again = await t.api().post(`/api/v1/promotions/${failed.id}/retry`).set(auth(rm));
    expect(again.status).toBe(409);
  });
});

describe('retrying a failed copy', () => {
  it('goes back to awaiting approval when the approvals given before the failure have expired', async () => {
    const image = await pushImage(local(), 'dev/lapse');
    broken = true;
    try {
      const created = await t
        .api()
        .post('/api/v1/promotions')
        .set(auth(ci))
        .send({ image: `${registryHost()}/dev/lapse@${image.digest}`, target: 'lapsing' });
      expect(created.body.status).toBe('awaiting_approval');
      const approved = await t.api().post(`/api/v1/promotions/${created.body.id}/approvals`).set(auth(rm)).send({ decision: 'approve' });
      expect(approved.body.status).toBe('approved');
      const failed = await eventually(async () => {
        const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(ci));
        return res.body.status === 'failed' && res.body;
      }, 30_000);
      // The approval (expiresAfter: 1s) has run out by now.
      await eventually(async () => Date.now() - Date.parse(failed.approvals[0].at) > 1500);
      broken = false;
      const retried = await t.api().post(`/api/v1/promotions/${failed.id}/retry`).set(auth(rm));
      expect(retried.status).toBe(202);
      expect(retried.body.status).toBe('awaiting_approval');
      expect(retried.body.approval).toMatchObject({ needed: 1, expired: 1, approvers: [] });
      const { rows } = await t.db.query(
        `SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.awaiting_approval' ORDER BY seq DESC LIMIT 1`,
        [`promotion:${failed.id}`],
      );
      expect(rows[0].data).toMatchObject({ event: 'retry', approvalsExpired: true });
      // A fresh approval lets it through.
      const again = await t.api().post(`/api/v1/promotions/${failed.id}/approvals`).set(auth(rm)).send({ decision: 'approve' });
      expect(again.body.status).toBe('approved');
      await eventually(async () => (await t.api().get(`/api/v1/promotions/${failed.id}`).set(auth(ci))).body.status === 'promoted', 20_000);
    } finally {
      broken = false;
    }
  });
});

describe('a registry behind htpasswd basic auth', () => {
  it('promotes into it with the credentials the pipeline names, and ends failed with the refusal when they are wrong', async () => {
    const guarded = await startRegistry({ auth: 'htpasswd', username: 'pusher', password: 'right-password' });
    const pipeline = `
registries:
  - name: local
    url: http://${registryHost()}
  - name: guarded
    url: ${guarded.url}
    auth: { type: basic, usernameEnv: GUARDED_USER, passwordEnv: GUARDED_PASS }
environments:
  - name: dev
    repository: local/dev/{app}
  - name: vault
    from: dev
    repository: guarded/vault/{app}
`;
    const good = await startTestApp({ pipeline, env: { GUARDED_USER: 'pusher', GUARDED_PASS: 'right-password' } });
    try {
      const image = await pushImage(local(), 'dev/locked');
      const token = await good.token('ci', ['ci']);
      const created = await good
        .api()
        .post('/api/v1/promotions')
        .set(auth(token))
        .send({ image: `${registryHost()}/dev/locked@${image.digest}`, target: 'vault' });
      await eventually(
        async () => (await good.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(token))).body.status === 'promoted',
        20_000,
      );
      const inVault = await getManifest({ url: guarded.url, username: 'pusher', password: 'right-password' }, 'vault/locked', image.digest);
      expect(inVault.bytes.equals(image.bytes)).toBe(true);
      expect((await getManifest({ url: guarded.url }, 'vault/locked', image.digest)).status).toBe(401);
    } finally {
      await good.close();
    }

    const bad = await startTestApp({ pipeline, env: { GUARDED_USER: 'pusher', GUARDED_PASS: 'wrong-password' } });
    try {
      const image = await pushImage(local(), 'dev/locked2');
      const token = await bad.token('ci', ['ci']);
      const created = await bad
        .api()
        .post('/api/v1/promotions')
        .set(auth(token))
        .send({ image: `${registryHost()}/dev/locked2@${image.digest}`, target: 'vault' });
      const failed = await eventually(async () => {
        const res = await bad.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(token));
        return res.body.status === 'failed' && res.body;
      }, 20_000);
      const { rows } = await bad.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.failed'`, [
        `promotion:${failed.id}`,
      ]);
      expect(rows[0].data.error).toMatch(/401|unauthori[sz]ed|credentials/i);
    } finally {
      await bad.close();
      await guarded.stop();
    }
  });
});
