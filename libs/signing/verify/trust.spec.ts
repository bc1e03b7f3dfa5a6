import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ecKeyPair, issueCert, testFulcio, testRekor } from '../../../test/helpers/sigstore.js';
import { parsePipeline, signatureGateSchema } from '#libs/config/index.js';
import { isDerEcdsaSignature } from './der.js';
import {
  loadVerificationPolicy,
  parseCertificate,
  parseRekorBundle,
  pemCertificates,
  setSignedBytes,
  TrustConfigError,
  verifyChain,
} from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'trust-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('test Fulcio certificates', () => {
  const fulcio = testFulcio();
  const leaf = fulcio.leaf({
    uri: 'https://github.com/acme/app/.github/workflows/b.yml@refs/heads/main',
    oidcIssuer: 'https://token.actions.githubusercontent.com',
  });

  it('are accepted by openssl as a chain to the root (an independent check of the test CA)', () => {
    writeFileSync(join(dir, 'root.pem'), fulcio.root.pem);
    writeFileSync(join(dir, 'inter.pem'), fulcio.intermediate.pem);
    writeFileSync(join(dir, 'leaf.pem'), leaf.pem);
    const out = execFileSync(
      'openssl',
      ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem')],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain('URI:https://github.com/acme/app');
    expect(text).toContain('Code Signing');
  });

  it('are read for SAN, OIDC issuer, key usage and extended key usage', () => {
    const parsed = parseCertificate(leaf.der);
    expect(parsed).toMatchObject({
      uris: ['https://github.com/acme/app/.github/workflows/b.yml@refs/heads/main'],
      emails: [],
      oidcIssuer: 'https://token.actions.githubusercontent.com',
      digitalSignature: true,
      extendedKeyUsages: ['1.3.6.1.5.5.7.3.3'],
      unknownCritical: [],
    });
    expect(parsed.notAfter.getTime() - parsed.notBefore.getTime()).toBe(11 * 60_000);
  });

  it('chain only through CA certificates to a configured root', () => {
    const [leafCert, inter, root] = [leaf, fulcio.intermediate, fulcio.root].map((c) => parseCertificate(c.der));
    expect(verifyChain(leafCert!, [inter!], [root!], leafCert!.notBefore)).toMatchObject({ ok: true });
    expect(verifyChain(leafCert!, [], [root!], leafCert!.notBefore)).toMatchObject({ ok: false });
    // A leaf cannot act as an issuer even when it signed the next certificate.
    const notCa = issueCert(null, { subject: 'not-a-ca' });
    const child = parseCertificate(issueCert(notCa, { uri: 'https://x' }).der);
    expect(verifyChain(child, [parseCertificate(notCa.der)], [root!], child.notBefore)).toMatchObject({ ok: false });
  });

  it('refuses garbage, truncated DER and oversized PEM bundles', () => {
    expect(() => parseCertificate(Buffer.from('not DER'))).toThrow(/not an X.509 certificate/);
    expect(() => parseCertificate(leaf.der.subarray(0, leaf.der.length - 10))).toThrow();
    expect(() => pemCertificates(fulcio.root.pem.repeat(9))).toThrow(/more than 8/);
  });

  it('tells DER ECDSA signatures from other bytes', () => {
    expect(isDerEcdsaSignature(Buffer.from('3006020101020101', 'hex'))).toBe(true);
    expect(isDerEcdsaSignature(Buffer.from('3006020101020101ff', 'hex'))).toBe(false);
    expect(isDerEcdsaSignature(Buffer.from('30060201010201', 'hex'))).toBe(false);
  });
});

describe('Rekor bundles', () => {
  it('sign the canonical JSON of body, integratedTime, logID, logIndex (sorted keys, as cosign)', () => {
    const rekor = testRekor();
    const bundle = parseRekorBundle(
      rekor.bundle({
        payload: Buffer.from('p'),
        signature: Buffer.from('s'),
        certificatePem: 'c',
        integratedTime: new Date(1_700_000_000_000),
      }),
    );
    expect(setSignedBytes(bundle.Payload).toString()).toBe(
      `{"body":"${bundle.Payload.body}","integratedTime":1700000000,"logID":"${rekor.logID}","logIndex":42}`,
    );
    writeFileSync(join(dir, 'rekor.pub'), rekor.publicKeyPem);
    writeFileSync(join(dir, 'set.bin'), Buffer.from(bundle.SignedEntryTimestamp, 'base64'));
    writeFileSync(join(dir, 'set-payload.json'), setSignedBytes(bundle.Payload));
    const out = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-verify', join(dir, 'rekor.pub'), '-signature', join(dir, 'set.bin'), join(dir, 'set-payload.json')],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('Verified OK');
  });

  it('without the required fields are refused', () => {
    expect(() => parseRekorBundle('{"SignedEntryTimestamp":"x","Payload":{"body":"b"}}')).toThrow(/lacks/);
  });
});

describe('gates.signature configuration', () => {
  const base = (gate: string) => `
registries: [{ name: local, url: http://127.0.0.1:5000 }]
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
    gates: { signature: ${gate} }
`;
  const problems = (gate: string): string => {
    try {
      parsePipeline(base(gate));
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('accepts the documented shape and defaults the rest', () => {
    const pipeline = parsePipeline(
      base(
        `{ keys: [keys/ci.pub], identities: [{ issuer: 'https://token.actions.githubusercontent.com', subjectRegExp: '^https://github.com/acme/.+' }], trustedRoot: { fulcioRoots: keys/fulcio-roots.pem, rekorKey: keys/rekor.pub }, attestations: [{ predicateType: 'https://slsa.dev/provenance/v1', keys: [keys/builder.pub] }] }`,
      ),
    );
    expect(pipeline.environments[1]!.gates.signature).toMatchObject({
      keys: ['keys/ci.pub'],
      trustedRoot: { rekorKey: ['keys/rekor.pub'] },
    });
  });

  it.each([
    ['no key and no identity', '{ keys: [] }', 'environments[1].gates.signature: name at least one trusted key'],
    [
      'identities without a trusted root',
      '{ identities: [{ issuer: x, subject: y }] }',
      'environments[1].gates.signature.trustedRoot: keyless identities need trustedRoot',
    ],
    [
      'both subject and subjectRegExp',
      '{ identities: [{ issuer: x, subject: y, subjectRegExp: z }], trustedRoot: { fulcioRoots: a, rekorKey: b } }',
      'give exactly one of subject and subjectRegExp',
    ],
    [
      'a bad regular expression',
      "{ identities: [{ issuer: x, subjectRegExp: '(' }], trustedRoot: { fulcioRoots: a, rekorKey: b } }",
      'identities[0].subjectRegExp: is not a valid regular expression',
    ],
    ['an unknown key', '{ keys: [a], keyz: [b] }', 'keyz'],
    [
      'an attestation nobody may sign',
      '{ keys: [a], attestations: [{ predicateType: x }] }',
      'attestations[0]: name at least one key or identity',
    ],
  ])('refuses %s, naming the key', (_what, gate, message) => {
    expect(problems(gate)).toContain(message);
  });

  it('reads trust files relative to the pipeline directory and names the key of a missing or bad one', () => {
    const key = ecKeyPair();
    const fulcio = testFulcio();
    writeFileSync(join(dir, 'ci.pub'), key.publicKeyPem);
    writeFileSync(join(dir, 'roots.pem'), fulcio.rootsPem);
    writeFileSync(join(dir, 'leaf.pem'), fulcio.leaf({ uri: 'https://x' }).pem);
    writeFileSync(join(dir, 'garbage.pub'), 'not a key');
    const load = (gate: object) => loadVerificationPolicy(signatureGateSchema.parse(gate), dir);
    expect(load({ keys: ['ci.pub'] }).keys[0]).toMatchObject({ source: 'ci.pub', algorithm: 'ec-p256' });
    const failure = (gate: object) => {
      try {
        load(gate);
      } catch (err) {
        expect(err).toBeInstanceOf(TrustConfigError);
        return (err as TrustConfigError).message;
      }
      throw new Error('expected a refusal');
    };
    expect(failure({ keys: ['ci.pub', 'missing.pub'] })).toBe('keys[1]: cannot read missing.pub (ENOENT)');
    expect(failure({ keys: ['garbage.pub'] })).toContain('keys[0]: garbage.pub: no PEM "PUBLIC KEY" block');
    expect(failure({ keys: ['ci.pub'], attestations: [{ predicateType: 'x', keys: ['nope.pub'] }] })).toContain(
      'attestations[0].keys[0]: cannot read nope.pub',
    );
    const keyless = { identities: [{ issuer: 'i', subject: 's' }], trustedRoot: { fulcioRoots: 'ci.pub', rekorKey: 'ci.pub' } };
    expect(failure(keyless)).toContain('trustedRoot.fulcioRoots: ci.pub holds no PEM CERTIFICATE');
    expect(failure({ ...keyless, trustedRoot: { fulcioRoots: 'leaf.pem', rekorKey: 'ci.pub' } })).toContain(
      'every certificate must be a CA certificate',
    );
    expect(failure({ ...keyless, trustedRoot: { fulcioRoots: 'roots.pem', rekorKey: 'roots.pem' } })).toContain('trustedRoot.rekorKey[0]');
  });
});
