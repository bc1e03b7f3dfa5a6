import { createPrivateKey, randomBytes, scrypt as scryptCb, type KeyObject, type ScryptOptions } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { KeyError } from './keys.js';

/** Written by cosign today. */
export const SIGSTORE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
/** Written by older cosign; the only label containers/image 5.23 reads. */
export const COSIGN_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';

/** cosign's (go-securesystemslib's) scrypt cost; readers also accept 2^14..2^20 with small r and p. */
export const COSIGN_SCRYPT = { N: 32768, r: 8, p: 1 } as const;

interface EncryptedKeyJson {
  kdf: { name: 'scrypt'; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: 'nacl/secretbox'; nonce: string };
  ciphertext: string;
}

function scrypt(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scryptCb(Buffer.from(password, 'utf8'), salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function pemBlock(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Finds `-----BEGIN <label>-----` … and returns the label and body bytes, or null. */
export function readPemBlock(text: string): { label: string; body: Buffer } | null {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return null;
  return { label: m[1]!, body: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') };
}

export function isCosignKeyLabel(label: string): boolean {
  return label === SIGSTORE_KEY_LABEL || label === COSIGN_KEY_LABEL;
}

/**
 * Opens the JSON body of a cosign encrypted key: scrypt(password, salt) → secretbox key. Errors
 * say what is wrong with the file or the password and never carry key bytes.
 */
export async function decryptCosignKey(body: Buffer, password: string, source: string): Promise<KeyObject> {
  let doc: EncryptedKeyJson;
  try {
    doc = JSON.parse(body.toString('utf8')) as EncryptedKeyJson;
  } catch {
    throw new KeyError(`${source}: the encrypted key body is not JSON`);
  }
  if (doc?.kdf?.name !== 'scrypt')
    throw new KeyError(`${source}: unsupported key derivation ${JSON.stringify(doc?.kdf?.name ?? null)} (want scrypt)`);
  if (doc.cipher?.name !== 'nacl/secretbox')
    throw new KeyError(`${source}: unsupported cipher ${JSON.stringify(doc.cipher?.name ?? null)} (want nacl/secretbox)`);
  const { N, r, p } = doc.kdf.params ?? ({} as { N: number; r: number; p: number });
  // Bounded so a hostile file cannot make us allocate gigabytes.
  const powerOfTwo = Number.isSafeInteger(N) && N >= 2 && (N & (N - 1)) === 0;
  if (
    !powerOfTwo ||
    N < 1 << 10 ||
    N > 1 << 20 ||
    !Number.isSafeInteger(r) ||
    r < 1 ||
    r > 32 ||
    !Number.isSafeInteger(p) ||
    p < 1 ||
    p > 16
  ) {
    throw new KeyError(`${source}: scrypt parameters out of range (N=${N}, r=${r}, p=${p})`);
  }
  const salt = Buffer.from(String(doc.kdf.salt ?? ''), 'base64');
  const nonce = Buffer.from(String(doc.cipher.nonce ?? ''), 'base64');
  const ciphertext = Buffer.from(String(doc.ciphertext ?? ''), 'base64');
  if (salt.length === 0) throw new KeyError(`${source}: the encrypted key has no salt`);
  if (nonce.length !== 24) throw new KeyError(`${source}: the secretbox nonce must be 24 bytes`);
  if (ciphertext.length <= 16) throw new KeyError(`${source}: the encrypted key has no ciphertext`);
  const secret = await scrypt(password, salt, { N, r, p });
  let plain: Uint8Array;
  try {
    plain = xsalsa20poly1305(secret, nonce).decrypt(ciphertext);
  } catch {
    throw new KeyError(`${source}: wrong password (or a damaged key file)`);
  } finally {
    secret.fill(0);
  }
  try {
    return createPrivateKey({ key: Buffer.from(plain), format: 'der', type: 'pkcs8' });
  } catch {
    throw new KeyError(`${source}: the decrypted key is not a PKCS#8 private key`);
  } finally {
    plain.fill(0);
  }
}

/** Writes a private key the way `cosign generate-key-pair` does: PKCS#8 DER in a scrypt + secretbox JSON PEM. */
export async function encryptCosignKey(
  key: KeyObject,
  password: string,
  options: { label?: string; scrypt?: { N: number; r: number; p: number } } = {},
): Promise<string> {
  const params = options.scrypt ?? COSIGN_SCRYPT;
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const secret = await scrypt(password, salt, params);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const ciphertext = Buffer.from(xsalsa20poly1305(secret, nonce).encrypt(der));
  secret.fill(0);
  der.fill(0);
  const doc: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  };
  return pemBlock(options.label ?? SIGSTORE_KEY_LABEL, Buffer.from(JSON.stringify(doc), 'utf8'));
}
