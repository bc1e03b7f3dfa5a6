import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyBundle, signEnvelope, statementBytes } from './dsse.js';
import {
  attestationTag,
  cosignConfigBlob,
  inTotoStatement,
  pae,
  parseDsseEnvelope,
  parseInTotoStatement,
  parseSimpleSigningPayload,
  referrersFallbackTag,
  signatureTag,
  simpleSigningPayload,
  VSA_PREDICATE_TYPE,
} from './formats.js';
import { KeySigner } from './signer.js';

const hex = 'ab'.repeat(32);
const digest = `sha256:${hex}`;
const dir = mkdtempSync(join(tmpdir(), 'signing-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('simple signing payload', () => {
  it('is byte for byte what cosign signs', () => {
    expect(simpleSigningPayload('127.0.0.1:5000/prod/web', digest).toString()).toBe(
      `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/prod/web"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
    );
    expect(simpleSigningPayload('r/x', digest, { a: 'b' }).toString()).toMatch(/"optional":\{"a":"b"\}\}$/);
  });

  it('round-trips through the strict parser', () => {
    const parsed = parseSimpleSigningPayload(simpleSigningPayload('reg/repo', digest));
    expect(parsed.critical.identity['docker-reference']).toBe('reg/repo');
    expect(parsed.critical.image['docker-manifest-digest']).toBe(digest);
    expect(parsed.optional).toBeNull();
  });

  it('rejects what containers/image rejects', () => {
    const good = JSON.parse(simpleSigningPayload('reg/repo', digest).toString());
    const bad = (mutate: (p: any) => void) => {
      const p = structuredClone(good);
      mutate(p);
      return JSON.stringify(p);
    };
    expect(() => parseSimpleSigningPayload('{')).toThrow(/not JSON/);
    expect(() => parseSimpleSigningPayload(bad((p) => (p.extra = 1)))).toThrow(/exactly the keys/);
    expect(() => parseSimpleSigningPayload(bad((p) => (p.critical.extra = 1)))).toThrow(/payload.critical must have exactly/);
    expect(() => parseSimpleSigningPayload(bad((p) => (p.critical.type = 'atomic container signature')))).toThrow(/type/);
    expect(() => parseSimpleSigningPayload(bad((p) => (p.critical.image['docker-manifest-digest'] = 'sha256:abc')))).toThrow(
      /sha256 digest/,
    );
    expect(() => parseSimpleSigningPayload(bad((p) => (p.critical.identity = {})))).toThrow(/identity/);
    expect(() => parseSimpleSigningPayload(bad((p) => (p.optional = 'x')))).toThrow(/optional/);
    expect(() => simpleSigningPayload('reg/repo', 'sha256:xyz')).toThrow(/not a sha256 digest/);
  });
});

describe('tags and config', () => {
  it('names the cosign and referrers tags for a digest', () => {
    expect(signatureTag(digest)).toBe(`sha256-${hex}.sig`);
    expect(attestationTag(digest)).toBe(`sha256-${hex}.att`);
    expect(referrersFallbackTag(digest)).toBe(`sha256-${hex}`);
  });

  it("writes cosign's config blob with one diff_id per layer", () => {
    expect(cosignConfigBlob([digest]).toString()).toBe(
      `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${digest}"]},"config":{}}`,
    );
  });
});

describe('DSSE and in-toto', () => {
  it('PAE counts bytes, not characters', () => {
    expect(pae('application/vnd.in-toto+json', Buffer.from('hello')).toString()).toBe('DSSEv1 28 application/vnd.in-toto+json 5 hello');
    expect(pae('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é');
  });

  it('a signed envelope verifies over the PAE bytes with node:crypto and with openssl', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signer = new KeySigner(privateKey);
    const statement = inTotoStatement('reg/prod/web', digest, VSA_PREDICATE_TYPE, { verificationResult: 'PASSED' });
    expect(statement.subject).toEqual([{ name: 'reg/prod/web', digest: { sha256: hex } }]);
    const envelope = await signEnvelope(signer, statementBytes(statement));
    const parsed = parseDsseEnvelope(JSON.stringify(envelope));
    const payload = Buffer.from(parsed.payload, 'base64');
    expect(parseInTotoStatement(payload)).toEqual(statement);
    const signed = pae(parsed.payloadType, payload);
    const sig = Buffer.from(parsed.signatures[0]!.sig, 'base64');
    expect(verify('sha256', signed, publicKey, sig)).toBe(true);

    writeFileSync(join(dir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'sig.der'), sig);
    writeFileSync(join(dir, 'pae.bin'), signed);
    const out = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.der'), join(dir, 'pae.bin')],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('Verified OK');

    const bundle = keyBundle(parsed, signer.hint);
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.verificationMaterial.publicKey).toEqual({ hint: signer.hint });
    expect(bundle.dsseEnvelope).toEqual(parsed);
  });

  it('rejects malformed envelopes and statements', () => {
    expect(() => parseDsseEnvelope('[]')).toThrow(/not an object/);
    expect(() => parseDsseEnvelope('{"payloadType":"x","payload":"eA==","signatures":[{}]}')).toThrow(/has no sig/);
    expect(() => parseInTotoStatement('{"_type":"x","subject":[],"predicateType":"p"}')).toThrow(/_type/);
    expect(() => parseInTotoStatement(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}`)).toThrow(
      /no subject/,
    );
  });
});
