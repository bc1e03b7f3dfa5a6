import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hashFor, KeyError, publicKeyInfo, type PublicKeyInfo } from './keys.js';
import { readPrivateKey } from './private-key.js';

/**
 * Signs bytes with a key the caller never sees. The key-file signer is the only one today; a KMS
 * signer would implement the same interface.
 */
export interface Signer {
  /** The key's id as shown everywhere (keyIdOf): `sha256:<hex>`. */
  readonly keyId: string;
  /** cosign's base64 hint, written only into sigstore bundles. */
  readonly hint: string;
  readonly publicKey: KeyObject;
  /** `ec-p256`, `ed25519`, `rsa`, ... */
  readonly algorithm: string;
  /** A signature over the bytes as cosign makes it: ECDSA in ASN.1 DER with SHA-256 for P-256. */
  sign(data: Uint8Array): Promise<Buffer>;
}

/** Checks a signature against a public key the way Signer produced it (used to spot our own signatures). */
export function verifyWith(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return cryptoVerify(hashFor(publicKey), data, { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

export class KeySigner implements Signer {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly algorithm: string;
  readonly hint: string;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.type !== 'private') throw new KeyError('a signer needs a private key');
    const info: PublicKeyInfo = publicKeyInfo(createPublicKey(privateKey));
    this.publicKey = info.key;
    this.keyId = info.keyId;
    this.algorithm = info.algorithm;
    this.hint = info.hint;
  }

  async sign(data: Uint8Array): Promise<Buffer> {
    return cryptoSign(hashFor(this.privateKey), data, { key: this.privateKey, dsaEncoding: 'der' });
  }

  /** Never print the key, whatever logs this object. */
  toJSON(): Record<string, string> {
    return { type: 'key', keyId: this.keyId, algorithm: this.algorithm };
  }
}

export interface KeyFileOptions {
  path: string;
  /** The password itself (from an env var read at boot); empty is a valid password. */
  password?: string | null;
  /** A file holding the password; one trailing newline is dropped. */
  passwordFile?: string | null;
}

/** Loads a key-file signer; every error names the key path, never the password or key bytes. */
export async function loadKeySigner(options: KeyFileOptions): Promise<KeySigner> {
  let pem: Buffer;
  try {
    pem = await readFile(options.path);
  } catch (err) {
    throw new KeyError(`${options.path}: cannot read the signing key (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let password = options.password ?? '';
  if (options.passwordFile) {
    try {
      password = (await readFile(options.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new KeyError(
        `${options.path}: cannot read the password file ${options.passwordFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  const key = await readPrivateKey(pem, password, options.path);
  pem.fill(0);
  return new KeySigner(key);
}
