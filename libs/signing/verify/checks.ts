import { verify as cryptoVerify } from 'node:crypto';
import { hashFor } from '../keys.js';
import { codeSigningProblem, pemCertificates, validAt, verifyChain, type ParsedCertificate } from './certificate.js';
import { isDerEcdsaSignature } from './der.js';
import { reject, type Outcome } from './report.js';
import { parseRekorBundle, verifyRekorBundle, type SetCheck } from './rekor.js';
import { issuerMatches, subjectMatches, type KeylessTrust, type TrustedKey } from './trust.js';

/** One signature to check: the bytes it covers and, for keyless, the layer's sigstore annotations. */
export interface SignedItem {
  signature: Buffer;
  /** What the signature covers: the simple-signing payload, or the DSSE PAE. */
  signed: Buffer;
  /** sha256 hex of the payload, as the Rekor entry records it. */
  payloadSha256: string;
  /** True for a signature over a payload (hashedrekord entry), false for a DSSE envelope. */
  messageSignature: boolean;
  certificate?: string;
  chain?: string;
  bundle?: string;
}

/** Accepted when any trusted key verifies the signature over exactly the signed bytes. */
export function verifyWithKeys(item: SignedItem, keys: TrustedKey[]): Outcome {
  if (keys.length === 0) return reject('unknown-key', 'no trusted key is configured for this, and the item has no certificate');
  for (const key of keys) {
    if (verifies(key.key, item.signed, item.signature)) {
      return { ok: true, signer: { kind: 'key', keyId: key.keyId, fingerprint: key.keyId, source: key.source } };
    }
  }
  if (!keys.some((k) => plausibleSignature(k, item.signature))) {
    return reject(
      'bad-signature',
      `the ${item.signature.length}-byte signature is not a well-formed signature for any trusted key type (truncated or not DER)`,
    );
  }
  return reject(
    'unknown-key',
    'no trusted key verifies this signature over these bytes (signed by another key, or the payload or signature was altered)',
  );
}

/**
 * Fulcio + Rekor, offline: the certificate chains to a configured root and may sign code, it
 * verifies the signature, its SAN and OIDC issuer match a trusted identity, and a Rekor signed
 * entry timestamp proves the signature was logged while the (short-lived) certificate was valid.
 */
export function verifyKeyless(item: SignedItem, trust: KeylessTrust, now: Date): Outcome {
  let leaf: ParsedCertificate;
  let chain: ParsedCertificate[];
  try {
    const leaves = pemCertificates(item.certificate ?? '', 1);
    if (leaves.length !== 1) return reject('malformed', 'the certificate annotation holds no PEM certificate');
    leaf = leaves[0]!;
    chain = item.chain ? pemCertificates(item.chain) : [];
  } catch (err) {
    return reject('malformed', `certificate annotation: ${(err as Error).message}`);
  }
  const path = verifyChain(leaf, chain, trust.roots, leaf.notBefore);
  if (!path.ok) return reject('untrusted-chain', `the certificate does not chain to a trusted root: ${path.problem}`);
  const usage = codeSigningProblem(leaf);
  if (usage) return reject('untrusted-chain', `the certificate may not sign code: ${usage}`);
  if (!verifies(leaf.x509.publicKey, item.signed, item.signature)) {
    return reject('bad-signature', "the certificate's key does not verify this signature over these bytes");
  }

  const sans = [...leaf.uris, ...leaf.emails];
  const issuer = leaf.oidcIssuer;
  const identity =
    issuer === null ? undefined : trust.identities.find((m) => issuerMatches(m, issuer) && sans.some((s) => subjectMatches(m, s)));
  if (!identity) {
    return reject(
      'identity-mismatch',
      `certificate subject ${sans.join(', ') || '(none)'} from OIDC issuer ${issuer ?? '(none)'} matches no trusted identity (${trust.identities.map((m) => m.describe).join('; ')})`,
    );
  }
  const subject = sans.find((s) => subjectMatches(identity, s))!;

  let set: SetCheck;
  if (!item.bundle) set = { ok: false, problem: 'no Rekor bundle on the layer' };
  else {
    try {
      set = verifyRekorBundle(parseRekorBundle(item.bundle), trust.rekorKeys, {
        payloadSha256: item.payloadSha256,
        signature: item.messageSignature ? item.signature : null,
        certificate: leaf.der,
      });
    } catch (err) {
      set = { ok: false, problem: `the Rekor bundle is malformed: ${(err as Error).message}` };
    }
  }
  const window = `${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}`;
  if (set.ok) {
    if (!validAt(leaf, set.integratedTime)) {
      return reject(
        'expired-certificate',
        `the certificate (valid ${window}) was not valid when Rekor logged the signature (${set.integratedTime.toISOString()})`,
      );
    }
    return {
      ok: true,
      signer: { kind: 'keyless', issuer: issuer!, subject, integratedTime: set.integratedTime.toISOString(), logIndex: set.logIndex },
    };
  }
  if (!validAt(leaf, now)) {
    return reject(
      'expired-certificate',
      `the certificate (valid ${window}) has expired and there is no valid signed entry timestamp: ${set.problem}`,
    );
  }
  return reject('invalid-timestamp', `keyless signatures need a valid Rekor signed entry timestamp: ${set.problem}`);
}

function verifies(key: TrustedKey['key'], signed: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify(hashFor(key), signed, key, signature);
  } catch {
    return false;
  }
}

function plausibleSignature(key: TrustedKey, signature: Buffer): boolean {
  switch (key.key.asymmetricKeyType) {
    case 'ec':
      return isDerEcdsaSignature(signature);
    case 'ed25519':
      return signature.length === 64;
    case 'rsa':
    case 'rsa-pss':
      return signature.length * 8 === (key.key.asymmetricKeyDetails?.modulusLength ?? -1);
    default:
      return true;
  }
}
