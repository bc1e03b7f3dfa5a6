import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

export interface PublicKeyInfo {
  key: KeyObject;
  /** cosign's key hint: standard base64 of sha256 over the SPKI DER. */
  keyId: string;
  /** `sha256:<hex>` over the SPKI DER, for logs and evidence. */
  fingerprint: string;
  /** `ec-p256`, `ed25519`, `rsa`, ... */
  algorithm: string;
}

const PUBLIC_PEM = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/;

/** Reads one PEM `PUBLIC KEY` (SPKI), as cosign writes `cosign.pub`. */
export function readPublicKey(pem: string | Buffer, source = 'public key'): PublicKeyInfo {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const block = PUBLIC_PEM.exec(text);
  if (!block) throw new KeyError(`${source}: no PEM "PUBLIC KEY" block`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block[0], format: 'pem' });
  } catch {
    throw new KeyError(`${source}: not a valid SPKI public key`);
  }
  return publicKeyInfo(key);
}

export function publicKeyInfo(key: KeyObject): PublicKeyInfo {
  const spki = key.export({ type: 'spki', format: 'der' });
  const sha = createHash('sha256').update(spki).digest();
  return { key, keyId: sha.toString('base64'), fingerprint: 'sha256:' + sha.toString('hex'), algorithm: keyAlgorithm(key) };
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function keyAlgorithm(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' ? 'ec-p256' : curve === 'secp384r1' ? 'ec-p384' : `ec-${curve ?? 'unknown'}`;
  }
  return type ?? 'unknown';
}

/**
 * The digest algorithm to pass to node:crypto sign/verify for a key: SHA-256 for P-256 and RSA
 * (cosign's default), SHA-384 for P-384, none for Ed25519 (it hashes internally).
 */
export function hashFor(key: KeyObject): 'sha256' | 'sha384' | null {
  const algorithm = keyAlgorithm(key);
  if (algorithm === 'ed25519') return null;
  if (algorithm === 'ec-p384') return 'sha384';
  return 'sha256';
}
