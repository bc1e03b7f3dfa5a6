import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '#libs/notify/index.js';
import { auditKeyFiles, integrated } from '../helpers/audit.js';
import { devImage, eventually, registryHost, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let hook: Server;
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
const SECRET = 'audit-hook-secret';
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const port = (hook.address() as AddressInfo).port;
  const keys = auditKeyFiles({ publish: '  publish: { registry: local, repository: audit/checkpoints }' });
  const pipeline = `${testPipeline()}${keys.block}
webhooks:
  - url: http://127.0.0.1:${port}/checkpoints
    secretEnv: AUDIT_HOOK_SECRET
    events: [audit.checkpoint]
`;
  t = await startTestApp({ pipeline, env: { AUDIT_HOOK_SECRET: SECRET } });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => hook.close(r));
});

describe('checkpoints leave the database', () => {
  it('sends each new checkpoint to the webhooks that want it and pushes it to the registry, latest and per size', async () => {
    const ci = await t.token('ci', ['ci']);
    const admin = await t.token('admin', ['admin']);
    await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: await devImage('pub'), target: 'staging' });
    await integrated(t.db);
    const made = (await t.api().post('/api/v1/audit/checkpoints').set(auth(admin)).expect(201)).body;

    const delivery = await eventually(async () => received.find((r) => JSON.parse(r.body).checkpoint?.size === made.size));
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({
      event: 'audit.checkpoint',
      deliveryId: `checkpoint-${made.size}`,
      checkpoint: { size: made.size, rootHash: made.rootHash, note: made.note },
    });
    expect(
      verifyWebhookSignature(
        SECRET,
        String(delivery.headers['x-promoter-timestamp']),
        delivery.body,
        String(delivery.headers['x-promoter-signature']),
      ),
    ).toBe(true);

    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    const base = `http://${registryHost()}/v2/audit/checkpoints`;
    for (const tag of [`size-${made.size}`, 'latest']) {
      const manifest = await eventually(async () => {
        const res = await fetch(`${base}/manifests/${tag}`, { headers: accept });
        return res.ok
          ? ((await res.json()) as { artifactType: string; layers: { digest: string }[]; annotations: Record<string, string> })
          : null;
      });
      expect(manifest.artifactType).toBe('application/vnd.image-promoter.audit.checkpoint.v1');
      expect(manifest.annotations['dev.image-promoter.audit.size']).toBe(String(made.size));
      const note = await (await fetch(`${base}/blobs/${manifest.layers[0]!.digest}`)).text();
      expect(note).toBe(made.note);
    }
  });
});
