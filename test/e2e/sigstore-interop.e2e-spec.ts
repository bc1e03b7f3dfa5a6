// Interoperability: the sigstore bundles, DSSE envelopes and .sig signatures the promoter writes are
// read and verified by sigstore-js (@sigstore/bundle, @sigstore/verify, @sigstore/core), an
// implementation that shares no code with libs/signing. Key-based bundles carry no transparency log
// entry or timestamp, so the verifier is built offline from an empty trusted root plus our key.
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BUNDLE_V03_MEDIA_TYPE,
  bundleFromJSON,
  isBundleWithDsseEnvelope,
  isBundleWithPublicKey,
  type SerializedBundle,
} from '@sigstore/bundle';
import { crypto as sigstoreCrypto } from '@sigstore/core';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier, type TrustMaterial } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCosignKeyPair, PROMOTION_PREDICATE_TYPE, VSA_PREDICATE_TYPE } from '#libs/signing/index.js';
import { getBlob, getManifest, pushImage, type PushedImage } from '../helpers/images.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const local = () => ({ url: `http://${registryHost()}` });

const dir = mkdtempSync(join(tmpdir(), 'sigstore-interop-e2e-'));
const PASSWORD = 'interop';
const REPO = 'interop/web';
let t: TestApp;
let ci: string;
let publicKeyPem: string;
/** The key hint computed here, independently of libs/signing: base64(sha256(SPKI DER)). */
let hint: string;
let trust: TrustMaterial;
let image: PushedImage;
/** The bundle blobs listed in the fallback index, with the referrer's predicate type annotation. */
let bundles: { predicateType: string; json: SerializedBundle }[];

// An empty trusted root: no Fulcio, Rekor, CT log or TSA. Only the public key below is trusted.
const emptyRoot = () =>
  TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });

// The option names of @sigstore/verify 2.x; no transparency log, SCT or RFC 3161 timestamp is required.
const offline = () => new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 });

async function manifestJson(repo: string, ref: string) {
  const m = await getManifest(local(), repo, ref);
  expect(m.status).toBe(200);
  return JSON.parse(m.bytes.toString('utf8'));
}

/** A copy of the serialized bundle with one byte of the DSSE payload changed. */
function tamperedPayload(json: SerializedBundle): SerializedBundle {
  const copy = structuredClone(json);
  const payload = Buffer.from(copy.dsseEnvelope!.payload, 'base64');
  payload[payload.length - 2] ^= 0x01;
  copy.dsseEnvelope!.payload = payload.toString('base64');
  return copy;
}

beforeAll(async () => {
  const pair = await generateCosignKeyPair(PASSWORD);
  publicKeyPem = pair.publicKeyPem;
  const keyPath = join(dir, 'cosign.key');
  writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 });
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  hint = createHash('sha256').update(spki).digest('base64');
  trust = toTrustMaterial(emptyRoot(), { [hint]: { rawBytes: spki, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 } });

  t = await startTestApp({
    pipeline: `${localPipeline()}  - name: interop
    from: dev
    repository: local/interop/{app}
    gates: { scan: { failOn: critical } }
signing:
  key: { path: ${keyPath}, passwordEnv: PROMOTER_KEY_PASSWORD }
`,
    env: { PROMOTER_KEY_PASSWORD: PASSWORD },
    gateHandlers: { scan: async () => ({ status: 'passed', summary: 'no findings', evidence: { critical: 0 } }) },
  });
  ci = await t.token('ci', ['ci']);

  image = await pushImage(local(), 'dev/web', { tag: '1.0.0' });
  const created = await t
    .api()
    .post('/api/v1/promotions')
    .set(auth(ci))
    .send({ image: `${registryHost()}/dev/web:1.0.0`, target: 'interop' });
  expect(created.status).toBe(202);
  const id = created.body.id as string;
  await eventually(async () => (await t.api().get(`/api/v1/promotions/${id}`).set(auth(ci))).body.status === 'promoted', 20_000);

  // docker-registry 2.8 has no referrers API: the bundles are found through the sha256-<hex> index.
  const index = await manifestJson(REPO, `sha256-${image.digest.slice('sha256:'.length)}`);
  bundles = [];
  for (const entry of index.manifests.filter((m: any) => m.artifactType === BUNDLE_V03_MEDIA_TYPE)) {
    const referrer = await manifestJson(REPO, entry.digest);
    expect(referrer.layers).toHaveLength(1);
    expect(referrer.layers[0].mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
    const blob = await getBlob(local(), REPO, referrer.layers[0].digest);
    expect(blob.status).toBe(200);
    bundles.push({ predicateType: entry.annotations['dev.sigstore.bundle.predicateType'], json: JSON.parse(blob.bytes.toString('utf8')) });
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sigstore-js reads and verifies what the promoter writes', () => {
  it('parses both bundle referrers as v0.3 DSSE bundles whose public key hint is our key id', () => {
    expect(bundles.map((b) => b.predicateType).sort()).toEqual([PROMOTION_PREDICATE_TYPE, VSA_PREDICATE_TYPE].sort());
    for (const { json } of bundles) {
      const bundle = bundleFromJSON(json);
      expect(bundle.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE);
      expect(isBundleWithDsseEnvelope(bundle)).toBe(true);
      expect(isBundleWithPublicKey(bundle)).toBe(true);
      if (!isBundleWithPublicKey(bundle) || !isBundleWithDsseEnvelope(bundle)) throw new Error('unreachable');
      expect(bundle.verificationMaterial.content.publicKey.hint).toBe(hint);
      expect(bundle.verificationMaterial.tlogEntries).toEqual([]);
      expect(bundle.content.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
      expect(bundle.content.dsseEnvelope.signatures).toHaveLength(1);
    }
  });

  it('verifies each bundle offline against our public key, and rejects a changed payload, another key or a missing key', async () => {
    expect(bundles).toHaveLength(2);
    for (const { json } of bundles) {
      const signer = offline().verify(toSignedEntity(bundleFromJSON(json)));
      expect(signer.key.export({ type: 'spki', format: 'pem' })).toBe(publicKeyPem);

      const tampered = () => offline().verify(toSignedEntity(bundleFromJSON(tamperedPayload(json))));
      expect(tampered).toThrow(VerificationError);
      expect(tampered).toThrow(/signature verification failed/);

      // The same hint bound to a different key: the signature must not verify.
      const other = await generateCosignKeyPair('');
      const otherSpki = createPublicKey(other.publicKeyPem).export({ type: 'spki', format: 'der' });
      const wrongKey = toTrustMaterial(emptyRoot(), {
        [hint]: { rawBytes: otherSpki, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 },
      });
      expect(() =>
        new Verifier(wrongKey, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(json))),
      ).toThrow(/signature verification failed/);

      // No trusted key for the hint.
      const noKey = toTrustMaterial(emptyRoot(), {});
      expect(() =>
        new Verifier(noKey, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(json))),
      ).toThrow(`key not found: ${hint}`);
    }
  });

  it('is rejected by a verifier that requires a transparency log entry (the default): none is written', () => {
    for (const { json } of bundles) {
      expect(() => new Verifier(trust).verify(toSignedEntity(bundleFromJSON(json)))).toThrow(/expected 1 tlog timestamps, got 0/);
    }
  });

  it('each verified envelope holds an in-toto v1 statement about the promoted digest, one per predicate type', () => {
    const seen: string[] = [];
    for (const { predicateType, json } of bundles) {
      const bundle = bundleFromJSON(json);
      offline().verify(toSignedEntity(bundle));
      if (!isBundleWithDsseEnvelope(bundle)) throw new Error('not a DSSE bundle');
      const statement = JSON.parse(bundle.content.dsseEnvelope.payload.toString('utf8'));
      expect(statement._type).toBe('https://in-toto.io/Statement/v1');
      expect(statement.subject).toEqual([{ name: `${registryHost()}/${REPO}`, digest: { sha256: image.digest.slice('sha256:'.length) } }]);
      expect(statement.predicateType).toBe(predicateType);
      expect(statement.predicate).toEqual(expect.any(Object));
      seen.push(statement.predicateType);
    }
    expect(seen.sort()).toEqual([PROMOTION_PREDICATE_TYPE, VSA_PREDICATE_TYPE].sort());
  });

  it("the .sig layer's signature verifies with @sigstore/core over the simple-signing payload", async () => {
    const sig = await manifestJson(REPO, `sha256-${image.digest.slice('sha256:'.length)}.sig`);
    const layer = sig.layers.find((l: any) => l.mediaType === 'application/vnd.dev.cosign.simplesigning.v1+json');
    const payload = (await getBlob(local(), REPO, layer.digest)).bytes;
    expect(JSON.parse(payload.toString('utf8')).critical.image['docker-manifest-digest']).toBe(image.digest);
    const key = sigstoreCrypto.createPublicKey(publicKeyPem);
    const signature = Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64');
    expect(sigstoreCrypto.verify(payload, key, signature)).toBe(true);
    const changed = Buffer.from(payload);
    changed[10] ^= 0x01;
    expect(sigstoreCrypto.verify(changed, key, signature)).toBe(false);
  });
});
