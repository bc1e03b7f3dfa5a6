import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

export interface PublicKeyInfo {
  key: KeyObject;
  /** The key's id wherever one is shown (keyIdOf): `sha256:<lowercase hex>` over the SPKI DER. */
  keyId: string;
  /** cosign's wire hint (cosignKeyHint), for sigstore bundles only: never shown. */
  hint: string;
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
  return { key, keyId: keyIdOf(key), hint: cosignKeyHint(key), algorithm: keyAlgorithm(key) };
}

function spkiSha256(key: KeyObject): Buffer {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest();
}

/**
 * The one form a key id is shown in (gate evidence, policy facts, `promoctl keygen` and `verify`,
 * logs, the API's `signing.keyId`): `sha256:` and the lowercase hex SHA-256 of the SPKI DER public
 * key. Hex because it is the form of every digest in the project and of Rekor's log id (the same
 * hash), and it survives URLs, file names and grep, which base64's `+`, `/` and `=` do not.
 * Reproduce it with `openssl pkey -pubin -in cosign.pub -outform DER | sha256sum`.
 */
export function keyIdOf(key: KeyObject): string {
  return 'sha256:' + spkiSha256(key).toString('hex');
}

/** cosign's `publicKey.hint` in a sigstore bundle: the same hash in standard base64 (a wire format, FORMATS.md). */
export function cosignKeyHint(key: KeyObject): string {
  return spkiSha256(key).toString('base64');
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
