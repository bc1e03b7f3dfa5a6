import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, scryptSync, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { xsalsa20 } from '@noble/ciphers/salsa.js';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptCosignKey, encryptCosignKey, readPemBlock } from './cosign-key.js';
import { generateCosignKeyPair } from './keygen.js';
import { readPublicKey } from './keys.js';
import { readPrivateKey } from './private-key.js';
import { KeySigner, loadKeySigner } from './signer.js';

const dir = mkdtempSync(join(tmpdir(), 'signing-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** secretbox built from its definition (XSalsa20 keystream, Poly1305 one-time key from its first 32 bytes). */
function secretboxByHand(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const stream = xsalsa20(key, nonce, new Uint8Array(32 + plaintext.length));
  const ciphertext = Buffer.from(plaintext.map((b, i) => b ^ stream[32 + i]!));
  const tag = poly1305(ciphertext, stream.subarray(0, 32));
  return Buffer.concat([Buffer.from(tag), ciphertext]);
}

/** A cosign key file written by the documented recipe, not by our writer. */
function handMadeCosignKey(privateKey: KeyObject, password: string, label: string): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const secret = scryptSync(password, salt, 32, { N: 32768, r: 8, p: 1, maxmem: 256 * 32768 * 8 });
  const box = secretboxByHand(secret, nonce, privateKey.export({ type: 'pkcs8', format: 'der' }));
  const body = JSON.stringify({
    kdf: { name: 'scrypt', params: { N: 32768, r: 8, p: 1 }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: box.toString('base64'),
  });
  const lines = Buffer.from(body)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

function openssl(pubPem: string, data: Buffer, signature: Buffer, name: string): string {
  const pub = join(dir, `${name}.pub.pem`);
  const sig = join(dir, `${name}.sig.der`);
  const payload = join(dir, `${name}.payload`);
  writeFileSync(pub, pubPem);
  writeFileSync(sig, signature);
  writeFileSync(payload, data);
  return execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, payload], { encoding: 'utf8' }).trim();
}

describe('cosign encrypted private keys', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  it('decrypts a key written by hand with the documented format (N=32768 r=8 p=1), both labels', async () => {
    for (const label of ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY']) {
      const pem = handMadeCosignKey(ec.privateKey, 'hunter2', label);
      const key = await readPrivateKey(pem, 'hunter2', 'fixture.key');
      expect(key.export({ type: 'pkcs8', format: 'der' }).equals(ec.privateKey.export({ type: 'pkcs8', format: 'der' }))).toBe(true);
    }
  });

  it('opens what our writer wrote, with the format cosign reads (scrypt + nacl/secretbox JSON)', async () => {
    const pem = await encryptCosignKey(ec.privateKey, 's3cret');
    const block = readPemBlock(pem)!;
    expect(block.label).toBe('ENCRYPTED SIGSTORE PRIVATE KEY');
    const doc = JSON.parse(block.body.toString('utf8'));
    expect(doc.kdf).toMatchObject({ name: 'scrypt', params: { N: 32768, r: 8, p: 1 } });
    expect(Buffer.from(doc.kdf.salt, 'base64')).toHaveLength(32);
    expect(doc.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(doc.cipher.nonce, 'base64')).toHaveLength(24);
    // Independent open: the hand-built secretbox of the same plaintext under the same key and nonce is identical.
    const secret = scryptSync('s3cret', Buffer.from(doc.kdf.salt, 'base64'), 32, { N: 32768, r: 8, p: 1, maxmem: 256 * 32768 * 8 });
    const der = ec.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(secretboxByHand(secret, Buffer.from(doc.cipher.nonce, 'base64'), der).toString('base64')).toBe(doc.ciphertext);
    const key = await decryptCosignKey(block.body, 's3cret', 'mine.key');
    expect(key.asymmetricKeyType).toBe('ec');
  });

  it('accepts the empty password', async () => {
    const pem = await encryptCosignKey(ec.privateKey, '');
    expect((await readPrivateKey(pem, '', 'empty.key')).type).toBe('private');
  });

  it('refuses a wrong password with a message naming the key, never the password or key bytes', async () => {
    const pem = await encryptCosignKey(ec.privateKey, 'right-password');
    const err = await readPrivateKey(pem, 'wrong-password', 'keys/promoter.key').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toBe('keys/promoter.key: wrong password (or a damaged key file)');
    expect(message).not.toContain('right-password');
    expect(message).not.toContain('wrong-password');
  });

  it('refuses hostile scrypt parameters before deriving anything', async () => {
    const pem = await encryptCosignKey(ec.privateKey, '');
    const block = readPemBlock(pem)!;
    const doc = JSON.parse(block.body.toString('utf8'));
    doc.kdf.params.N = 2 ** 30;
    await expect(decryptCosignKey(Buffer.from(JSON.stringify(doc)), '', 'big.key')).rejects.toThrow(/scrypt parameters out of range/);
    doc.kdf.params.N = 32768;
    doc.cipher.name = 'aes';
    await expect(decryptCosignKey(Buffer.from(JSON.stringify(doc)), '', 'aes.key')).rejects.toThrow(/unsupported cipher/);
  });
});

describe('signing round trips for every key format', () => {
  const ecPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const edPair = generateKeyPairSync('ed25519');
  const rsaPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const payload = Buffer.from(
    '{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:' +
      'a'.repeat(64) +
      '"},"type":"cosign container image signature"},"optional":null}',
  );

  const cases: Array<[string, () => Promise<string>, string, KeyObject]> = [
    ['cosign ENCRYPTED SIGSTORE PRIVATE KEY', () => encryptCosignKey(ecPair.privateKey, 'pw'), 'pw', ecPair.publicKey],
    [
      'cosign ENCRYPTED COSIGN PRIVATE KEY',
      async () => handMadeCosignKey(ecPair.privateKey, 'pw', 'ENCRYPTED COSIGN PRIVATE KEY'),
      'pw',
      ecPair.publicKey,
    ],
    ['PKCS#8 EC P-256', async () => ecPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), '', ecPair.publicKey],
    ['SEC1 EC P-256', async () => ecPair.privateKey.export({ type: 'sec1', format: 'pem' }).toString(), '', ecPair.publicKey],
    [
      'encrypted PKCS#8 EC P-256',
      async () => ecPair.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString(),
      'pw',
      ecPair.publicKey,
    ],
    ['PKCS#8 Ed25519', async () => edPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), '', edPair.publicKey],
    ['PKCS#8 RSA', async () => rsaPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), '', rsaPair.publicKey],
  ];

  for (const [name, pem, password, expectedPublic] of cases) {
    it(`${name}: loads from a file, signs, node:crypto verifies with the PEM public key`, async () => {
      const path = join(dir, `${name.replace(/\W+/g, '-')}.key`);
      writeFileSync(path, await pem());
      const signer = await loadKeySigner({ path, password });
      const signature = await signer.sign(payload);
      const pub = readPublicKey(expectedPublic.export({ type: 'spki', format: 'pem' }));
      expect(signer.keyId).toBe(pub.keyId);
      const hash = pub.algorithm === 'ed25519' ? null : 'sha256';
      expect(verify(hash, payload, pub.key, signature)).toBe(true);
      expect(verify(hash, Buffer.concat([payload, Buffer.from(' ')]), pub.key, signature)).toBe(false);
    });
  }

  it('openssl dgst -sha256 -verify accepts an ECDSA P-256 signature from a cosign key', async () => {
    const pair = await generateCosignKeyPair('');
    const signer = new KeySigner(await readPrivateKey(pair.privateKeyPem, '', 'cosign.key'));
    const signature = await signer.sign(payload);
    expect(openssl(pair.publicKeyPem, payload, signature, 'p256')).toBe('Verified OK');
    expect(() => openssl(pair.publicKeyPem, Buffer.concat([payload, Buffer.from('x')]), signature, 'p256-bad')).toThrow();
  });

  it('the password file is read and its trailing newline dropped; errors name the key path only', async () => {
    const keyPath = join(dir, 'pwfile.key');
    writeFileSync(keyPath, await encryptCosignKey(ecPair.privateKey, 'from-file'));
    const pwPath = join(dir, 'pw.txt');
    writeFileSync(pwPath, 'from-file\n');
    expect((await loadKeySigner({ path: keyPath, passwordFile: pwPath })).keyId).toBe(
      readPublicKey(ecPair.publicKey.export({ type: 'spki', format: 'pem' })).keyId,
    );
    await expect(loadKeySigner({ path: join(dir, 'missing.key') })).rejects.toThrow(
      `${join(dir, 'missing.key')}: cannot read the signing key (ENOENT)`,
    );
    await expect(loadKeySigner({ path: keyPath, password: 'nope' })).rejects.toThrow(`${keyPath}: wrong password`);
  });

  it('a signer serialises to its key id, never to key material', async () => {
    const signer = new KeySigner(createPrivateKey(ecPair.privateKey.export({ type: 'pkcs8', format: 'pem' })));
    const json = JSON.stringify(signer);
    expect(json).toContain(signer.keyId);
    expect(json).not.toMatch(/PRIVATE|"d"|privateKey/);
  });

  it("keyId is sha256:<hex> of the SPKI DER; the bundle hint is cosign's base64 of the same hash", () => {
    const info = readPublicKey(ecPair.publicKey.export({ type: 'spki', format: 'pem' }));
    const openssl = (tail: string) =>
      execFileSync('sh', ['-c', `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | ${tail}`], {
        input: ecPair.publicKey.export({ type: 'spki', format: 'pem' }),
        encoding: 'utf8',
      }).trim();
    expect(info.keyId).toBe('sha256:' + openssl('od -An -tx1 | tr -d " \\n"'));
    expect(info.hint).toBe(openssl('base64'));
    expect(() => readPublicKey('not a key', 'keys/ci.pub')).toThrow('keys/ci.pub: no PEM "PUBLIC KEY" block');
  });
});
