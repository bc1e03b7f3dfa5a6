import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../../../test/helpers/images.js';
import { registryConfig, startRegistry, type TestRegistry } from '../../../test/helpers/registry.js';
import {
  dsseEnvelope,
  ecKeyPair,
  pushBundleReferrers,
  pushCosignManifest,
  sigstoreBundle,
  testFulcio,
  testRekor,
  type CosignLayer,
  type TestCert,
} from '../../../test/helpers/sigstore.js';
import { signatureGateSchema } from '#libs/config/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { Annotations, COSIGN_SIGN_PREDICATE_TYPE, inTotoStatement, pae, simpleSigningPayload } from '../formats.js';
import { loadVerificationPolicy, verifyImage, type VerificationPolicy, type VerificationReport } from './index.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main';
const PROVENANCE = 'https://slsa.dev/provenance/v1';

describe('verifyImage against a real registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let dir: string;
  const ci = ecKeyPair();
  const other = ecKeyPair();
  const builder = ecKeyPair();
  const fulcio = testFulcio();
  const rekor = testRekor();
  let policy: VerificationPolicy;
  let n = 0;

  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient([registryConfig('r', reg)], { env: {} });
    dir = mkdtempSync(join(tmpdir(), 'verify-spec-'));
    writeFileSync(join(dir, 'ci.pub'), ci.publicKeyPem);
    writeFileSync(join(dir, 'builder.pub'), builder.publicKeyPem);
    writeFileSync(join(dir, 'roots.pem'), fulcio.rootsPem);
    writeFileSync(join(dir, 'rekor.pub'), rekor.publicKeyPem);
    policy = loadVerificationPolicy(
      signatureGateSchema.parse({
        keys: ['ci.pub'],
        identities: [{ issuer: ISSUER, subjectRegExp: '^https://github\\.com/acme/.+' }],
        trustedRoot: { fulcioRoots: 'roots.pem', rekorKey: 'rekor.pub' },
      }),
      dir,
    );
  }, 30_000);
  afterAll(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function image(): Promise<{ repo: string; digest: string; mediaType: string; size: number }> {
    const repo = `verify/app${++n}`;
    const img = await pushImage(reg, repo, { layers: 1 });
    return { repo, digest: img.digest, mediaType: img.mediaType, size: img.size };
  }

  function keySigned(key: KeyObject, repo: string, digest: string): CosignLayer {
    const blob = simpleSigningPayload(`${reg.host}/${repo}`, digest);
    return { blob, annotations: { [Annotations.signature]: sign('sha256', blob, key).toString('base64') } };
  }

  function keyless(
    repo: string,
    digest: string,
    leaf: TestCert,
    options: { bundle?: boolean | string; integratedTime?: Date } = {},
  ): CosignLayer {
    const blob = simpleSigningPayload(`${reg.host}/${repo}`, digest);
    const signature = sign('sha256', blob, leaf.key);
    const bundle =
      typeof options.bundle === 'string'
        ? options.bundle
        : options.bundle === false
          ? undefined
          : rekor.bundle({ payload: blob, signature, certificatePem: leaf.pem, integratedTime: options.integratedTime });
    return {
      blob,
      annotations: {
        [Annotations.signature]: signature.toString('base64'),
        [Annotations.certificate]: leaf.pem,
        [Annotations.chain]: fulcio.intermediate.pem + fulcio.root.pem,
        ...(bundle ? { [Annotations.bundle]: bundle } : {}),
      },
    };
  }

  async function verify(layers: CosignLayer[], p = policy, target?: { repo: string; digest: string }): Promise<VerificationReport> {
    const img = target ?? (await image());
    if (layers.length > 0) await pushCosignManifest(reg, img.repo, img.digest, 'sig', layers);
    return verifyImage(client, { registry: 'r', repository: img.repo, digest: img.digest }, p);
  }

  async function only(layerOf: (repo: string, digest: string) => CosignLayer | Promise<CosignLayer>): Promise<VerificationReport> {
    const img = await image();
    return verify([await layerOf(img.repo, img.digest)], policy, img);
  }

  it('accepts a signature by a trusted key over the exact digest, naming the key', async () => {
    const report = await only((repo, digest) => keySigned(ci.privateKey, repo, digest));
    expect(report.verified).toBe(true);
    expect(report.signatures.items).toEqual([expect.objectContaining({ index: 0, accepted: true, detail: 'verified' })]);
    expect(report.signers).toEqual([
      { kind: 'key', keyId: expect.any(String), fingerprint: expect.stringMatching(/^sha256:[a-f0-9]{64}$/), source: 'ci.pub' },
    ]);
  });

  it('finds nothing on an unsigned image and does not verify it', async () => {
    const report = await verify([]);
    expect(report.verified).toBe(false);
    expect(report.signatures).toMatchObject({ manifest: null, layers: 0, items: [] });
  });

  it('rejects a valid signature over another digest', async () => {
    const elsewhere = await image();
    const report = await only((repo) => keySigned(ci.privateKey, repo, elsewhere.digest));
    expect(report.verified).toBe(false);
    expect(report.signatures.items[0]).toMatchObject({ accepted: false, reason: 'wrong-digest' });
  });

  it('rejects a tampered payload', async () => {
    const report = await only((repo, digest) => {
      const layer = keySigned(ci.privateKey, repo, digest);
      return {
        ...layer,
        blob: Buffer.from(layer.blob.toString().replace('cosign container image signature', 'cosign container image signaturE')),
      };
    });
    expect(report.signatures.items[0]).toMatchObject({ accepted: false, reason: 'unknown-key' });
  });

  it('rejects a signature by a key it does not trust', async () => {
    const report = await only((repo, digest) => keySigned(other.privateKey, repo, digest));
    expect(report.verified).toBe(false);
    expect(report.signatures.items[0]).toMatchObject({ accepted: false, reason: 'unknown-key' });
  });

  it('rejects truncated and non-DER signatures as bad signatures', async () => {
    const img = await image();
    const good = keySigned(ci.privateKey, img.repo, img.digest);
    const der = Buffer.from(good.annotations[Annotations.signature]!, 'base64');
    const report = await verify(
      [
        { ...good, annotations: { [Annotations.signature]: der.subarray(0, der.length - 5).toString('base64') } },
        { ...good, annotations: { [Annotations.signature]: randomBytes(64).toString('base64') } },
      ],
      policy,
      img,
    );
    expect(report.signatures.items.map((i) => i.reason)).toEqual(['bad-signature', 'bad-signature']);
  });

  it('rejects malformed layers, each with its own reason, and still accepts the good one among them', async () => {
    const img = await image();
    const good = keySigned(ci.privateKey, img.repo, img.digest);
    const nonJson = Buffer.from('this is not JSON');
    const report = await verify(
      [
        { blob: good.blob, annotations: {} },
        { blob: good.blob, annotations: { [Annotations.signature]: '%%% not base64 %%%' } },
        { ...good, mediaType: 'application/octet-stream' },
        { blob: nonJson, annotations: { [Annotations.signature]: sign('sha256', nonJson, ci.privateKey).toString('base64') } },
        { blob: good.blob, annotations: { ...good.annotations, [Annotations.certificate]: 'not a certificate' } },
        good,
      ],
      policy,
      img,
    );
    const items = report.signatures.items;
    expect(items.map((i) => [i.index, i.accepted, i.reason ?? null])).toEqual([
      [0, false, 'malformed'],
      [1, false, 'malformed'],
      [2, false, 'malformed'],
      [3, false, 'malformed'],
      [4, false, 'malformed'],
      [5, true, null],
    ]);
    expect(items[0]!.detail).toContain('dev.cosignproject.cosign/signature is missing');
    expect(items[3]!.detail).toContain('not JSON');
    expect(report.verified).toBe(true);
  });

  it('rejects a payload larger than the cap without reading it', async () => {
    const img = await image();
    const big = Buffer.alloc(100 * 1024, 0x20);
    const report = await verify(
      [{ blob: big, annotations: { [Annotations.signature]: sign('sha256', big, ci.privateKey).toString('base64') } }],
      policy,
      img,
    );
    expect(report.signatures.items[0]).toMatchObject({ reason: 'malformed', detail: expect.stringContaining('at most 65536 are read') });
  });

  it('examines at most 256 layers of a 1000-layer .sig manifest and says so', async () => {
    const img = await image();
    const junk = keySigned(other.privateKey, img.repo, img.digest);
    const report = await verify(
      Array.from({ length: 1000 }, () => junk),
      policy,
      img,
    );
    expect(report.verified).toBe(false);
    expect(report.limits.maxLayers).toBe(256);
    expect(report.signatures).toMatchObject({ layers: 1000, examined: 256 });
    expect(report.signatures.items).toHaveLength(257);
    expect(report.signatures.items.slice(0, 256).every((i) => i.reason === 'unknown-key')).toBe(true);
    expect(report.signatures.items[256]).toMatchObject({ reason: 'not-examined', detail: expect.stringContaining('744 more layers') });
  }, 60_000);

  it('refuses a .sig manifest with more layers than cosign allows', async () => {
    const img = await image();
    const good = keySigned(ci.privateKey, img.repo, img.digest);
    const report = await verify(
      Array.from({ length: 1001 }, () => good),
      policy,
      img,
    );
    expect(report.verified).toBe(false);
    expect(report.signatures.problem).toContain('1001 layers');
  }, 60_000);

  describe('keyless', () => {
    it('accepts a Fulcio certificate chaining to the root, with a matching identity and a valid SET', async () => {
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
      const report = await only((repo, digest) => keyless(repo, digest, leaf));
      expect(report.signatures.items[0]).toMatchObject({ accepted: true });
      expect(report.signers).toEqual([
        { kind: 'keyless', issuer: ISSUER, subject: SUBJECT, integratedTime: expect.any(String), logIndex: 42 },
      ]);
    });

    it('reads the legacy issuer extension alone, and email subjects', async () => {
      const leaf = fulcio.leaf({ email: 'dev@acme.example', oidcIssuer: 'https://accounts.acme.example', issuerExtensions: ['v1'] });
      const p = loadVerificationPolicy(
        signatureGateSchema.parse({
          identities: [{ issuer: 'https://accounts.acme.example', subject: 'dev@acme.example' }],
          trustedRoot: { fulcioRoots: 'roots.pem', rekorKey: 'rekor.pub' },
        }),
        dir,
      );
      const img = await image();
      const report = await verify([keyless(img.repo, img.digest, leaf)], p, img);
      expect(report.signers).toEqual([expect.objectContaining({ issuer: 'https://accounts.acme.example', subject: 'dev@acme.example' })]);
    });

    it('rejects a certificate from a CA it does not trust', async () => {
      const rogue = testFulcio();
      const leaf = rogue.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
      const report = await only((repo, digest) => ({
        ...keyless(repo, digest, leaf),
        annotations: { ...keyless(repo, digest, leaf).annotations, [Annotations.chain]: rogue.intermediate.pem + rogue.root.pem },
      }));
      expect(report.signatures.items[0]).toMatchObject({ accepted: false, reason: 'untrusted-chain' });
    });

    it('rejects a forged certificate that names the trusted intermediate as issuer', async () => {
      const forger = ecKeyPair();
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER, signingKey: forger.privateKey });
      const report = await only((repo, digest) => keyless(repo, digest, leaf));
      expect(report.signatures.items[0]).toMatchObject({ reason: 'untrusted-chain' });
    });

    it('rejects a certificate that may not sign code', async () => {
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER, extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'] });
      const report = await only((repo, digest) => keyless(repo, digest, leaf));
      expect(report.signatures.items[0]).toMatchObject({ reason: 'untrusted-chain', detail: expect.stringContaining('codeSigning') });
    });

    it('rejects a certificate for another identity', async () => {
      const leaf = fulcio.leaf({ uri: 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main', oidcIssuer: ISSUER });
      const report = await only((repo, digest) => keyless(repo, digest, leaf));
      expect(report.signatures.items[0]).toMatchObject({ reason: 'identity-mismatch', detail: expect.stringContaining('github.com/evil') });
    });

    it('rejects a certificate from another OIDC issuer', async () => {
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: 'https://gitlab.com' });
      const report = await only((repo, digest) => keyless(repo, digest, leaf));
      expect(report.signatures.items[0]).toMatchObject({
        reason: 'identity-mismatch',
        detail: expect.stringContaining('https://gitlab.com'),
      });
    });

    it('rejects an expired certificate without a signed entry timestamp', async () => {
      const hourAgo = new Date(Date.now() - 3_600_000);
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER, notBefore: hourAgo, notAfter: new Date(hourAgo.getTime() + 600_000) });
      const report = await only((repo, digest) => keyless(repo, digest, leaf, { bundle: false }));
      expect(report.signatures.items[0]).toMatchObject({ reason: 'expired-certificate' });
    });

    it('accepts an expired certificate when the SET proves it was logged while valid, and not when logged after', async () => {
      const hourAgo = new Date(Date.now() - 3_600_000);
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER, notBefore: hourAgo, notAfter: new Date(hourAgo.getTime() + 600_000) });
      const img = await image();
      const report = await verify(
        [
          keyless(img.repo, img.digest, leaf, { integratedTime: new Date(hourAgo.getTime() + 60_000) }),
          keyless(img.repo, img.digest, leaf, { integratedTime: new Date() }),
        ],
        policy,
        img,
      );
      expect(report.signatures.items.map((i) => i.reason ?? 'ok')).toEqual(['ok', 'expired-certificate']);
    });

    it('rejects a SET from another Rekor key, or over another entry', async () => {
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
      const img = await image();
      const otherLog = testRekor();
      const blob = simpleSigningPayload(`${reg.host}/${img.repo}`, img.digest);
      const foreignSet = otherLog.bundle({ payload: blob, signature: sign('sha256', blob, leaf.key), certificatePem: leaf.pem });
      const otherEntry = rekor.bundle({ payload: Buffer.from('something else'), signature: randomBytes(70), certificatePem: leaf.pem });
      const report = await verify(
        [keyless(img.repo, img.digest, leaf, { bundle: foreignSet }), keyless(img.repo, img.digest, leaf, { bundle: otherEntry })],
        policy,
        img,
      );
      expect(report.signatures.items.map((i) => i.reason)).toEqual(['invalid-timestamp', 'invalid-timestamp']);
      expect(report.signatures.items[0]!.detail).toContain('not a trusted Rekor key');
      expect(report.signatures.items[1]!.detail).toContain('not about this signature');
    });
  });

  describe('attestations', () => {
    function envelope(key: KeyObject, repo: string, digest: string, predicateType = PROVENANCE): CosignLayer {
      const statement = Buffer.from(
        JSON.stringify(inTotoStatement(`${reg.host}/${repo}`, digest, predicateType, { buildDefinition: {}, runDetails: {} })),
      );
      const sig = sign('sha256', pae('application/vnd.in-toto+json', statement), key);
      const blob = Buffer.from(
        JSON.stringify({
          payloadType: 'application/vnd.in-toto+json',
          payload: statement.toString('base64'),
          signatures: [{ keyid: '', sig: sig.toString('base64') }],
        }),
      );
      return { blob, annotations: { [Annotations.signature]: '', predicateType } };
    }
    let attPolicy: VerificationPolicy;
    beforeAll(() => {
      attPolicy = loadVerificationPolicy(
        signatureGateSchema.parse({ keys: ['ci.pub'], attestations: [{ predicateType: PROVENANCE, keys: ['builder.pub'] }] }),
        dir,
      );
    });

    async function attested(att: (repo: string, digest: string) => CosignLayer[]): Promise<VerificationReport> {
      const img = await image();
      await pushCosignManifest(reg, img.repo, img.digest, 'att', att(img.repo, img.digest));
      return verify([keySigned(ci.privateKey, img.repo, img.digest)], attPolicy, img);
    }

    it('accepts provenance signed by the builder key over the PAE, with the image as subject', async () => {
      const report = await attested((repo, digest) => [envelope(builder.privateKey, repo, digest)]);
      expect(report.verified).toBe(true);
      expect(report.attestations).toEqual([expect.objectContaining({ predicateType: PROVENANCE, satisfied: true, layers: 1 })]);
      expect(report.signers.map((s) => (s.kind === 'key' ? s.source : s.subject)).sort()).toEqual(['builder.pub', 'ci.pub']);
    });

    it('is not verified when the required attestation is signed by the wrong key, about another image, or of another type', async () => {
      const elsewhere = await image();
      const report = await attested((repo, digest) => [
        envelope(other.privateKey, repo, digest),
        envelope(builder.privateKey, repo, elsewhere.digest),
        envelope(builder.privateKey, repo, digest, 'https://example.com/other/v1'),
        { blob: Buffer.from('{"payloadType":'), annotations: {} },
      ]);
      expect(report.signatures.items[0]!.accepted).toBe(true);
      expect(report.verified).toBe(false);
      expect(report.attestations[0]!.satisfied).toBe(false);
      expect(report.attestations[0]!.items.map((i) => i.reason)).toEqual(['unknown-key', 'wrong-digest', 'wrong-predicate', 'malformed']);
    });

    it('accepts a keyless attestation with a DSSE Rekor entry', async () => {
      const p = loadVerificationPolicy(
        signatureGateSchema.parse({
          keys: ['ci.pub'],
          trustedRoot: { fulcioRoots: 'roots.pem', rekorKey: 'rekor.pub' },
          attestations: [{ predicateType: PROVENANCE, identities: [{ issuer: ISSUER, subject: SUBJECT }] }],
        }),
        dir,
      );
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
      const img = await image();
      const statement = Buffer.from(JSON.stringify(inTotoStatement(`${reg.host}/${img.repo}`, img.digest, PROVENANCE, {})));
      const sig = sign('sha256', pae('application/vnd.in-toto+json', statement), leaf.key);
      const blob = Buffer.from(
        JSON.stringify({
          payloadType: 'application/vnd.in-toto+json',
          payload: statement.toString('base64'),
          signatures: [{ keyid: '', sig: sig.toString('base64') }],
        }),
      );
      await pushCosignManifest(reg, img.repo, img.digest, 'att', [
        {
          blob,
          annotations: {
            [Annotations.signature]: '',
            [Annotations.certificate]: leaf.pem,
            [Annotations.chain]: fulcio.intermediate.pem,
            [Annotations.bundle]: rekor.dsseBundle({ payload: statement, certificatePem: leaf.pem }),
          },
        },
      ]);
      const report = await verify([keySigned(ci.privateKey, img.repo, img.digest)], p, img);
      expect(report.attestations[0]).toMatchObject({ satisfied: true });
      expect(report.verified).toBe(true);
    });
  });

  describe('sigstore bundle referrers (cosign 3)', () => {
    const statement = (repo: string, digest: string, predicateType: string) =>
      inTotoStatement(`${reg.host}/${repo}`, digest, predicateType, {});

    it('accepts a cosign sign/v1 bundle by a trusted key when the image has no .sig', async () => {
      const img = await image();
      await pushBundleReferrers(reg, img.repo, img, [
        {
          bundle: sigstoreBundle(dsseEnvelope(statement(img.repo, img.digest, COSIGN_SIGN_PREDICATE_TYPE), ci.privateKey), { hint: 'x' }),
          predicateType: COSIGN_SIGN_PREDICATE_TYPE,
        },
      ]);
      const report = await verify([], policy, img);
      expect(report.verified).toBe(true);
      expect(report.referrers).toEqual({ listedBy: 'fallback-tag', found: 1, examined: 1 });
      expect(report.signatures.items).toEqual([
        expect.objectContaining({ source: 'referrer', accepted: true, predicateType: COSIGN_SIGN_PREDICATE_TYPE }),
      ]);
      expect(report.signers).toEqual([expect.objectContaining({ kind: 'key', source: 'ci.pub' })]);
    });

    it('accepts a keyless bundle (certificate + DSSE Rekor entry) and rejects bundles about another image or by another key', async () => {
      const img = await image();
      const elsewhere = await image();
      const leaf = fulcio.leaf({ uri: SUBJECT, oidcIssuer: ISSUER });
      const st = statement(img.repo, img.digest, COSIGN_SIGN_PREDICATE_TYPE);
      const envelope = dsseEnvelope(st, leaf.key);
      const rekorBundle = rekor.dsseBundle({ payload: Buffer.from(envelope.payload, 'base64'), certificatePem: leaf.pem });
      await pushBundleReferrers(reg, img.repo, img, [
        { bundle: sigstoreBundle(envelope, { certificate: leaf, rekorBundle }), predicateType: COSIGN_SIGN_PREDICATE_TYPE },
        {
          bundle: sigstoreBundle(dsseEnvelope(statement(img.repo, elsewhere.digest, COSIGN_SIGN_PREDICATE_TYPE), ci.privateKey), {
            hint: 'x',
          }),
          predicateType: COSIGN_SIGN_PREDICATE_TYPE,
        },
        { bundle: sigstoreBundle(dsseEnvelope(st, other.privateKey), { hint: 'x' }), predicateType: COSIGN_SIGN_PREDICATE_TYPE },
        { bundle: { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }, predicateType: COSIGN_SIGN_PREDICATE_TYPE },
      ]);
      // A bundle carries the leaf only: the intermediate comes from the configured roots file, as in sigstore's trusted root.
      writeFileSync(join(dir, 'fulcio-chain.pem'), fulcio.root.pem + fulcio.intermediate.pem);
      const p = loadVerificationPolicy(
        signatureGateSchema.parse({
          keys: ['ci.pub'],
          identities: [{ issuer: ISSUER, subject: SUBJECT }],
          trustedRoot: { fulcioRoots: 'fulcio-chain.pem', rekorKey: 'rekor.pub' },
        }),
        dir,
      );
      const report = await verify([], p, img);
      expect(report.signatures.items.map((i) => [i.index, i.reason ?? 'ok'])).toEqual([
        [0, 'ok'],
        [1, 'wrong-digest'],
        [2, 'unknown-key'],
        [3, 'malformed'],
      ]);
      expect(report.signers).toEqual([expect.objectContaining({ kind: 'keyless', subject: SUBJECT, logIndex: 7 })]);
    });

    it('satisfies an attestation requirement with a bundle of that predicate type', async () => {
      const img = await image();
      const p = loadVerificationPolicy(
        signatureGateSchema.parse({ keys: ['ci.pub'], attestations: [{ predicateType: PROVENANCE, keys: ['builder.pub'] }] }),
        dir,
      );
      await pushBundleReferrers(reg, img.repo, img, [
        {
          bundle: sigstoreBundle(dsseEnvelope(statement(img.repo, img.digest, PROVENANCE), builder.privateKey), { hint: 'x' }),
          predicateType: PROVENANCE,
        },
      ]);
      const report = await verify([keySigned(ci.privateKey, img.repo, img.digest)], p, img);
      expect(report.attestations[0]).toMatchObject({
        satisfied: true,
        items: [expect.objectContaining({ source: 'referrer', accepted: true })],
      });
      expect(report.verified).toBe(true);
    });
  });
});
