import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateCosignKeyPair,
  pae,
  parseDsseEnvelope,
  parseInTotoStatement,
  PROMOTION_PREDICATE_TYPE,
  simpleSigningPayload,
  VSA_PREDICATE_TYPE,
} from '#libs/signing/index.js';
import { loadConfig } from '#libs/config/index.js';
import { loadConfiguredSigner, PromoteService } from '#libs/workflow/index.js';
import { getBlob, getManifest, pushImage, sha256 } from '../helpers/images.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const local = () => ({ url: `http://${registryHost()}` });

const dir = mkdtempSync(join(tmpdir(), 'signing-e2e-'));
const PASSWORD = 'correct horse';
let keyPath: string;
let t: TestApp;
let ci: string;
let rm: string;
let sec: string;

const pipeline = (signing: string) => `${localPipeline()}  - name: signed
    from: dev
    repository: local/signed/{app}
    gates: { scan: { failOn: critical } }
    approvals: { required: 1, roles: [release-manager] }
    reviews: [security]
${signing}`;

const signingBlock = (path: string) => `signing:\n  key: { path: ${path}, passwordEnv: PROMOTER_KEY_PASSWORD }\n`;

beforeAll(async () => {
  const pair = await generateCosignKeyPair(PASSWORD);
  keyPath = join(dir, 'cosign.key');
  writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'cosign.pub'), pair.publicKeyPem);
  t = await startTestApp({
    pipeline: pipeline(signingBlock(keyPath)),
    env: { PROMOTER_KEY_PASSWORD: PASSWORD },
    gateHandlers: { scan: async () => ({ status: 'passed', summary: 'no findings', evidence: { critical: 0 } }) },
  });
  ci = await t.token('ci', ['ci']);
  rm = await t.token('rm', ['release-manager']);
  sec = await t.token('sec', ['security-reviewer']);
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function promoteSigned(app: string) {
  const image = await pushImage(local(), `dev/${app}`, { tag: '1.0.0' });
  const created = await t
    .api()
    .post('/api/v1/promotions')
    .set(auth(ci))
    .send({ image: `${registryHost()}/dev/${app}:1.0.0`, target: 'signed' });
  expect(created.status).toBe(202);
  const id = created.body.id as string;
  await eventually(async () => (await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci))).body.status === 'awaiting_approval');
  expect(
    (await t.api().post(`/api/v1/promotions/${id}/reviews`).set(auth(sec)).send({ kind: 'security', verdict: 'approve', notes: 'ok' }))
      .status,
  ).toBe(201);
  expect(
    (await t.api().post(`/api/v1/promotions/${id}/approvals`).set(auth(rm)).send({ decision: 'approve', comment: 'ship it' })).status,
  ).toBe(201);
  await eventually(async () => (await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci))).body.status === 'promoted', 20_000);
  return { id, image };
}

function opensslVerify(data: Buffer, signature: Buffer, name: string): Promise<{ stdout: string }> {
  writeFileSync(join(dir, `${name}.payload`), data);
  writeFileSync(join(dir, `${name}.sig`), signature);
  return run('openssl', [
    'dgst',
    '-sha256',
    '-verify',
    join(dir, 'cosign.pub'),
    '-signature',
    join(dir, `${name}.sig`),
    join(dir, `${name}.payload`),
  ]);
}

async function manifestJson(repo: string, ref: string) {
  const m = await getManifest(local(), repo, ref);
  expect(m.status).toBe(200);
  return JSON.parse(m.bytes.toString('utf8'));
}

async function attachmentsOf(repo: string, digest: string) {
  const hex = digest.slice('sha256:'.length);
  return {
    sig: await manifestJson(repo, `sha256-${hex}.sig`),
    att: await manifestJson(repo, `sha256-${hex}.att`),
    index: await manifestJson(repo, `sha256-${hex}`),
  };
}

describe('signing and attesting promoted images', () => {
  it('signs the target digest in its .sig manifest, cosign layout, valid under openssl and readable by skopeo', async () => {
    const { id, image } = await promoteSigned('web');
    const repo = 'signed/web';
    const { sig } = await attachmentsOf(repo, image.digest);
    expect(sig.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(sig.layers).toHaveLength(1);
    const layer = sig.layers[0];
    expect(layer.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');

    const payload = (await getBlob(local(), repo, layer.digest)).bytes;
    expect(payload.equals(simpleSigningPayload(`${registryHost()}/${repo}`, image.digest))).toBe(true);
    const parsed = JSON.parse(payload.toString());
    expect(parsed.critical.identity['docker-reference']).toBe(`${registryHost()}/signed/web`);
    expect(parsed.critical.image['docker-manifest-digest']).toBe(image.digest);
    const signature = Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64');
    expect((await opensslVerify(payload, signature, 'sig')).stdout.trim()).toBe('Verified OK');

    expect(sig.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    const config = JSON.parse((await getBlob(local(), repo, sig.config.digest)).bytes.toString());
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [layer.digest] });

    const { stdout } = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registryHost()}/${repo}:sha256-${image.digest.slice(7)}.sig`,
    ]);
    expect(JSON.parse(stdout).layers[0].digest).toBe(layer.digest);

    const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted'`, [
      `promotion:${id}`,
    ]);
    expect(rows[0].data.signing).toMatchObject({
      signed: true,
      signature: { tag: `sha256-${image.digest.slice(7)}.sig`, payloadDigest: layer.digest, status: 'added' },
    });
  });

  it('attests the VSA and the promotion record as .att DSSE layers and sigstore bundle referrers in the fallback index', async () => {
    const { id, image } = await promoteSigned('api');
    const repo = 'signed/api';
    const { att, index } = await attachmentsOf(repo, image.digest);
    expect(att.layers).toHaveLength(2);
    const statements = [];
    for (const layer of att.layers) {
      expect(layer.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
      const envelope = parseDsseEnvelope((await getBlob(local(), repo, layer.digest)).bytes);
      expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
      const payload = Buffer.from(envelope.payload, 'base64');
      const verified = await opensslVerify(pae(envelope.payloadType, payload), Buffer.from(envelope.signatures[0]!.sig, 'base64'), 'dsse');
      expect(verified.stdout.trim()).toBe('Verified OK');
      const statement = parseInTotoStatement(payload);
      expect(statement._type).toBe('https://in-toto.io/Statement/v1');
      expect(statement.subject).toEqual([{ name: `${registryHost()}/${repo}`, digest: { sha256: image.digest.slice(7) } }]);
      expect(layer.annotations.predicateType).toBe(statement.predicateType);
      statements.push(statement);
    }
    expect(statements.map((s) => s.predicateType).sort()).toEqual([PROMOTION_PREDICATE_TYPE, VSA_PREDICATE_TYPE].sort());

    const vsa = statements.find((s) => s.predicateType === VSA_PREDICATE_TYPE)!.predicate as Record<string, any>;
    expect(vsa).toMatchObject({ verificationResult: 'PASSED', resourceUri: `${registryHost()}/${repo}@${image.digest}` });
    expect(vsa.verifier.id).toMatch(/^https:\/\//);
    expect(vsa.policy.digest.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(vsa.inputAttestations).toEqual([
      { uri: expect.stringContaining(`/promotions/${id}/gates/scan`), digest: { sha256: expect.stringMatching(/^[a-f0-9]{64}$/) } },
    ]);

    const record = statements.find((s) => s.predicateType === PROMOTION_PREDICATE_TYPE)!.predicate as Record<string, any>;
    expect(record.source).toEqual({ environment: 'dev', reference: `${registryHost()}/dev/api@${image.digest}`, digest: image.digest });
    expect(record.target).toMatchObject({ environment: 'signed', digest: image.digest });
    expect(record.gates).toEqual([
      expect.objectContaining({ gate: 'scan', status: 'passed', evidenceDigest: expect.stringMatching(/^sha256:/) }),
    ]);
    expect(record.approvals).toEqual([
      expect.objectContaining({ kind: 'approval', principal: expect.objectContaining({ name: 'rm' }), decision: 'approve', via: 'api' }),
    ]);
    expect(record.reviews).toEqual([
      expect.objectContaining({ kind: 'security', principal: expect.objectContaining({ name: 'sec' }), decision: 'approve' }),
    ]);
    expect(record.signed).toBe(true);

    // docker-registry 2.8 has no referrers API: both bundles are listed by the sha256-<hex> index.
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const bundles = index.manifests.filter((m: any) => m.artifactType === 'application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundles.map((m: any) => m.annotations['dev.sigstore.bundle.predicateType']).sort()).toEqual(
      [PROMOTION_PREDICATE_TYPE, VSA_PREDICATE_TYPE].sort(),
    );
    for (const entry of bundles) {
      const referrer = await manifestJson(repo, entry.digest);
      expect(referrer.subject).toEqual({ mediaType: image.mediaType, digest: image.digest, size: image.size });
      expect(referrer.config.digest).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
      const bundle = JSON.parse((await getBlob(local(), repo, referrer.layers[0].digest)).bytes.toString());
      expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
      // The bundle carries the very envelope stored in .att.
      const envelopeLayer = att.layers.find(
        (l: any) => l.annotations.predicateType === entry.annotations['dev.sigstore.bundle.predicateType'],
      );
      expect(sha256(Buffer.from(JSON.stringify(bundle.dsseEnvelope)))).toBe(envelopeLayer.digest);
    }

    const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted'`, [
      `promotion:${id}`,
    ]);
    expect(rows[0].data.signing.attestations.map((a: any) => a.envelopeDigest).sort()).toEqual(att.layers.map((l: any) => l.digest).sort());
  });

  it('running the promote step again adds no second signature, attestation or referrer', async () => {
    const { id, image } = await promoteSigned('retry');
    const repo = 'signed/retry';
    const before = await attachmentsOf(repo, image.digest);
    // As if the worker died after signing but before recording success.
    await t.db.query(`UPDATE promotions SET status = 'promoting' WHERE id = $1`, [id]);
    expect(await t.app.get(PromoteService).execute(id)).toBe('promoted');
    const after = await attachmentsOf(repo, image.digest);
    expect(after.sig.layers).toHaveLength(1);
    expect(after.sig).toEqual(before.sig);
    expect(after.att.layers).toHaveLength(2);
    expect(after.att).toEqual(before.att);
    expect(after.index.manifests).toHaveLength(2);
    expect(after.index).toEqual(before.index);
    const { rows } = await t.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted' ORDER BY seq`, [
      `promotion:${id}`,
    ]);
    expect(rows).toHaveLength(2);
    expect(rows[1].data.signing.signature.status).toBe('present');
    expect(rows[1].data.signing.attestations.map((a: any) => a.status)).toEqual(['present', 'present']);
  });
});

describe('signing configuration at start-up', () => {
  it('a wrong password or a missing key stops start-up naming the key path, not the password', async () => {
    const configFor = (path: string, password: string) => {
      const file = join(dir, `promoter-${password.length}-${path.length}.yaml`);
      writeFileSync(file, pipeline(signingBlock(path)));
      return loadConfig({
        PROMOTER_CONFIG: file,
        PROMOTER_BOOTSTRAP_TOKEN: 'x'.repeat(32),
        REDIS_URL: 'redis://127.0.0.1:1',
        PROMOTER_KEY_PASSWORD: password,
      });
    };
    const wrong = await loadConfiguredSigner(configFor(keyPath, 'not the password')).catch((e: Error) => e);
    expect((wrong as Error).message).toBe(`signing.key: ${keyPath}: wrong password (or a damaged key file)`);
    // Relative to the pipeline file.
    const missing = await loadConfiguredSigner(configFor('keys/none.key', PASSWORD)).catch((e: Error) => e);
    expect((missing as Error).message).toBe(`signing.key: ${join(dir, 'keys/none.key')}: cannot read the signing key (ENOENT)`);
    expect(await loadConfiguredSigner(configFor('cosign.key', PASSWORD))).toMatchObject({ algorithm: 'ec-p256' });
    const unset = join(dir, 'promoter-unset.yaml');
    writeFileSync(unset, pipeline(signingBlock('cosign.key')));
    await expect(loadConfiguredSigner(loadConfig({ PROMOTER_CONFIG: unset, PROMOTER_BOOTSTRAP_TOKEN: 'x'.repeat(32) }))).rejects.toThrow(
      /signing.key.passwordEnv: environment variable PROMOTER_KEY_PASSWORD is not set/,
    );
  });

  it('without a signing key the promotion is recorded as not signed and nothing is written', async () => {
    const plain = await startTestApp({
      pipeline: `${localPipeline()}  - name: signed
    from: dev
    repository: local/signed/{app}
`,
    });
    try {
      const token = await plain.token('ci', ['ci']);
      const image = await pushImage(local(), 'dev/unsigned', { tag: '1' });
      const created = await plain
        .api()
        .post('/api/v1/promotions')
        .set(auth(token))
        .send({ image: `${registryHost()}/dev/unsigned:1`, target: 'signed' });
      await eventually(
        async () => (await plain.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(token))).body.status === 'promoted',
        20_000,
      );
      const { rows } = await plain.db.query(`SELECT data FROM audit_events WHERE subject = $1 AND action = 'promotion.promoted'`, [
        `promotion:${created.body.id}`,
      ]);
      expect(rows[0].data.signing).toEqual({ signed: false });
      expect((await getManifest(local(), 'signed/unsigned', `sha256-${image.digest.slice(7)}.sig`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
