import { sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { loadSignaturePolicies } from '../../apps/worker/src/gates/signature-policies.js';
import { ConfigError, loadConfig } from '#libs/config/index.js';
import { Annotations, inTotoStatement, pae, simpleSigningPayload } from '#libs/signing/index.js';
import { pushImage } from '../helpers/images.js';
import { ecKeyPair, pushCosignManifest, testFulcio, testRekor } from '../helpers/sigstore.js';
import { eventually, registryHost, startTestApp, testPipeline, type TestApp } from '../helpers/test-app.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main';
const PROVENANCE = 'https://slsa.dev/provenance/v1';

const dir = mkdtempSync(join(tmpdir(), 'signature-e2e-'));
const ci = ecKeyPair();
const stranger = ecKeyPair();
const builder = ecKeyPair();
const fulcio = testFulcio();
const rekor = testRekor();
writeFileSync(join(dir, 'ci.pub'), ci.publicKeyPem);
writeFileSync(join(dir, 'builder.pub'), builder.publicKeyPem);
writeFileSync(join(dir, 'roots.pem'), fulcio.rootsPem);
writeFileSync(join(dir, 'rekor.pub'), rekor.publicKeyPem);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const reg = () => ({ url: `http://${registryHost()}` });

async function devPush(app: string): Promise<string> {
  return (await pushImage(reg(), `dev/${app}`, { layers: 1 })).digest;
}

async function signWith(key: KeyObject, app: string, digest: string): Promise<void> {
  const payload = simpleSigningPayload(`${registryHost()}/dev/${app}`, digest);
  await pushCosignManifest(reg(), `dev/${app}`, digest, 'sig', [
    { blob: payload, annotations: { [Annotations.signature]: sign('sha256', payload, key).toString('base64') } },
  ]);
}

async function attestWith(key: KeyObject, app: string, digest: string): Promise<void> {
  const statement = Buffer.from(
    JSON.stringify(inTotoStatement(`${registryHost()}/dev/${app}`, digest, PROVENANCE, { buildDefinition: {}, runDetails: {} })),
  );
  const sig = sign('sha256', pae('application/vnd.in-toto+json', statement), key).toString('base64');
  const envelope = Buffer.from(
    JSON.stringify({
      payloadType: 'application/vnd.in-toto+json',
      payload: statement.toString('base64'),
      signatures: [{ keyid: '', sig }],
    }),
  );
  await pushCosignManifest(reg(), `dev/${app}`, digest, 'att', [
    { blob: envelope, annotations: { [Annotations.signature]: '', predicateType: PROVENANCE } },
  ]);
}

function pipelineWith(gate: string): string {
  return `${testPipeline()}  - name: signed
    from: dev
    repository: local/signed/{app}
    gates:
      signature: ${gate}
`;
}

describe('the signature gate', () => {
  let t: TestApp;
  let requester: string;
  beforeAll(async () => {
    t = await startTestApp({
      pipeline: pipelineWith(
        `{ keys: ['${join(dir, 'ci.pub')}'], attestations: [{ predicateType: '${PROVENANCE}', keys: ['${join(dir, 'builder.pub')}'] }] }`,
      ),
    });
    requester = await t.token('ci', ['ci']);
  });
  afterAll(() => t?.close());

  async function gateOf(app: string, digest: string) {
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(requester))
      .send({ image: `${registryHost()}/dev/${app}@${digest}`, target: 'signed' });
    expect(created.status).toBe(202);
    const done = await eventually(async () => {
      const res = await t.api().get(`/api/v1/promotions/${created.body.id}`).set(auth(requester));
      return res.body.status !== 'pending' && res.body.status !== 'evaluating' && res.body;
    }, 20_000);
    return { promotion: done, gate: done.gates.find((g: { gate: string }) => g.gate === 'signature') };
  }

  it('blocks an unsigned image and says why', async () => {
    const digest = await devPush('unsigned');
    const { promotion, gate } = await gateOf('unsigned', digest);
    expect(promotion.status).toBe('blocked');
    expect(gate.status).toBe('failed');
    expect(gate.summary).toContain('no signatures');
    expect(gate.evidence.signatures).toMatchObject({ manifest: null, layers: 0, items: [] });
    expect(gate.evidence.signers).toEqual([]);
  });

  it('blocks an image signed by an untrusted key, naming the reason per signature', async () => {
    const digest = await devPush('stranger');
    await signWith(stranger.privateKey, 'stranger', digest);
    await attestWith(builder.privateKey, 'stranger', digest);
    const { promotion, gate } = await gateOf('stranger', digest);
    expect(promotion.status).toBe('blocked');
    expect(gate.status).toBe('failed');
    expect(gate.evidence.signatures.items).toEqual([expect.objectContaining({ accepted: false, reason: 'unknown-key' })]);
  });

  it('blocks a signed image whose required provenance is missing', async () => {
    const digest = await devPush('noprov');
    await signWith(ci.privateKey, 'noprov', digest);
    const { gate } = await gateOf('noprov', digest);
    expect(gate.status).toBe('failed');
    expect(gate.summary).toContain(`no valid attestation of ${PROVENANCE}`);
  });

  it('passes a signed and attested image, listing who signed in the evidence', async () => {
    const digest = await devPush('signed');
    await signWith(ci.privateKey, 'signed', digest);
    await attestWith(builder.privateKey, 'signed', digest);
    const { promotion, gate } = await gateOf('signed', digest);
    expect(gate.status).toBe('passed');
    expect(promotion.status).not.toBe('blocked');
    expect(gate.evidence.signers.map((s: { source: string }) => s.source).sort()).toEqual([join(dir, 'builder.pub'), join(dir, 'ci.pub')]);
    expect(gate.evidence.signatures.items[0]).toMatchObject({ accepted: true, signer: { kind: 'key', source: join(dir, 'ci.pub') } });
    expect(gate.evidenceDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it('stops start-up when a trust file is missing, naming the key (the check boot() runs)', () => {
    const file = join(dir, 'missing-key.yaml');
    writeFileSync(file, pipelineWith(`{ keys: ['${join(dir, 'ci.pub')}', '${join(dir, 'missing.pub')}'] }`));
    const config = loadConfig({ PROMOTER_CONFIG: file, REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(() => loadSignaturePolicies(config)).toThrow(ConfigError);
    expect(() => loadSignaturePolicies(config)).toThrow(
      /environments\[6\]\.gates\.signature\.keys\[1\]: cannot read .*missing\.pub \(ENOENT\)/,
    );
    writeFileSync(file, pipelineWith(`{ keys: [ci.pub] }`));
    // Relative paths resolve against the pipeline file's directory.
    expect(loadSignaturePolicies(loadConfig({ PROMOTER_CONFIG: file })).get('signed')!.keys[0]!.source).toBe('ci.pub');
  });
});

describe('promoctl verify against the registry', () => {
  async function promoctl(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: { HOME: dir } });
    return { code, stdout, stderr };
  }

  it('exits 0 for a signature by the given key, 1 for an unsigned image or another key', async () => {
    const digest = await devPush('cli-signed');
    await signWith(ci.privateKey, 'cli-signed', digest);
    const image = `${registryHost()}/dev/cli-signed@${digest}`;

    const ok = await promoctl(['verify', image, '--key', join(dir, 'ci.pub')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('[0] sha256:');
    expect(ok.stdout).toContain(`accepted: key ${join(dir, 'ci.pub')}`);

    const wrong = await promoctl(['verify', image, '--key', join(dir, 'builder.pub')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('rejected (unknown-key)');
    expect(wrong.stdout).toContain('NOT VERIFIED');

    const unsignedDigest = await devPush('cli-unsigned');
    const none = await promoctl(['verify', `${registryHost()}/dev/cli-unsigned@${unsignedDigest}`, '--key', join(dir, 'ci.pub')]);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('signatures: none');
  });

  it('resolves a tag, verifies keyless signatures offline and attestations by type', async () => {
    const img = await pushImage(reg(), 'dev/cli-keyless', { layers: 1, tag: 'v1' });
    const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
    const payload = simpleSigningPayload(`${registryHost()}/dev/cli-keyless`, img.digest);
    const signature = sign('sha256', payload, leaf.key);
    await pushCosignManifest(reg(), 'dev/cli-keyless', img.digest, 'sig', [
      {
        blob: payload,
        annotations: {
          [Annotations.signature]: signature.toString('base64'),
          [Annotations.certificate]: leaf.pem,
          [Annotations.chain]: fulcio.intermediate.pem,
          [Annotations.bundle]: rekor.bundle({ payload, signature, certificatePem: leaf.pem }),
        },
      },
    ]);
    await attestWith(builder.privateKey, 'cli-keyless', img.digest);
    const image = `${registryHost()}/dev/cli-keyless:v1`;
    const keyless = [
      '--certificate-chain',
      join(dir, 'roots.pem'),
      '--rekor-key',
      join(dir, 'rekor.pub'),
      '--certificate-oidc-issuer',
      ISSUER,
    ];

    const ok = await promoctl(['verify', image, ...keyless, '--certificate-identity-regexp', '^https://github\\.com/acme/']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`verified by ${SUBJECT} via ${ISSUER}`);

    const other = await promoctl(['verify', image, ...keyless, '--certificate-identity', 'https://github.com/acme/other']);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain('rejected (identity-mismatch)');

    const att = await promoctl(['verify', image, '--attestation', PROVENANCE, '--key', join(dir, 'builder.pub'), '--json']);
    expect(att.code).toBe(0);
    expect(JSON.parse(att.stdout).attestations[0]).toMatchObject({ predicateType: PROVENANCE, satisfied: true });

    const noAtt = await promoctl(['verify', image, '--attestation', 'https://example.com/none/v1', '--key', join(dir, 'builder.pub')]);
    expect(noAtt.code).toBe(1);
  });

  it('exits 2 for usage errors and unreadable keys', async () => {
    expect((await promoctl(['verify', `${registryHost()}/dev/x:v1`])).code).toBe(2);
    const missing = await promoctl(['verify', `${registryHost()}/dev/x:v1`, '--key', join(dir, 'nope.pub')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    const noImage = await promoctl(['verify', `${registryHost()}/dev/does-not-exist:v1`, '--key', join(dir, 'ci.pub')]);
    expect(noImage.code).toBe(2);
    expect(noImage.stderr).toContain('no manifest');
  });
});
