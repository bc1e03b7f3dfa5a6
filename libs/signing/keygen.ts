import { generateKeyPairSync } from 'node:crypto';
import { encryptCosignKey } from './cosign-key.js';
import { publicKeyInfo, publicKeyPem } from './keys.js';

export interface CosignKeyPair {
  /** `ENCRYPTED SIGSTORE PRIVATE KEY` PEM, as `cosign generate-key-pair` writes cosign.key. */
  privateKeyPem: string;
  /** SPKI `PUBLIC KEY` PEM (cosign.pub). */
  publicKeyPem: string;
  keyId: string;
}

/** A fresh ECDSA P-256 pair in cosign's formats; the password may be empty. */
export async function generateCosignKeyPair(password: string): Promise<CosignKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: await encryptCosignKey(privateKey, password),
    publicKeyPem: publicKeyPem(publicKey),
    keyId: publicKeyInfo(publicKey).keyId,
  };
}
