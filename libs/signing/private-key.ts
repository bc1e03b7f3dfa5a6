import { createPrivateKey, type KeyObject } from 'node:crypto';
import { decryptCosignKey, isCosignKeyLabel, readPemBlock } from './cosign-key.js';
import { KeyError } from './keys.js';

const PLAIN_LABELS = ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY'];

/**
 * Reads a private key in any form we accept: cosign's encrypted PEM (both labels), PKCS#8
 * `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` and encrypted PKCS#8. `source`
 * names the key in errors (a path); the password and key bytes never appear in them.
 */
export async function readPrivateKey(pem: string | Buffer, password: string, source: string): Promise<KeyObject> {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const block = readPemBlock(text);
  if (!block) throw new KeyError(`${source}: no PEM private key block`);
  if (isCosignKeyLabel(block.label)) return decryptCosignKey(block.body, password, source);
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    try {
      return createPrivateKey({ key: text, format: 'pem', passphrase: password });
    } catch {
      throw new KeyError(`${source}: wrong password (or a damaged key file)`);
    }
  }
  if (PLAIN_LABELS.includes(block.label)) {
    try {
      return createPrivateKey({ key: text, format: 'pem' });
    } catch {
      throw new KeyError(`${source}: not a valid ${block.label}`);
    }
  }
  throw new KeyError(`${source}: unsupported PEM block "${block.label}"`);
}
