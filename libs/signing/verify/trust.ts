import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SignatureGateConfig, SignatureIdentityConfig } from '#libs/config/index.js';
import { readPublicKey, type PublicKeyInfo } from '../keys.js';
import { pemCertificates, type ParsedCertificate } from './certificate.js';

// Trust material for verification, read from the files the configuration names. Everything is
// parsed up front so that a missing or bad file stops start-up instead of failing every promotion.

export interface TrustedKey extends PublicKeyInfo {
  /** The file as the configuration names it (evidence says which key verified). */
  source: string;
}

export interface IdentityMatcher {
  issuer?: string;
  issuerRegExp?: RegExp;
  subject?: string;
  subjectRegExp?: RegExp;
  /** The identity as configured, for evidence. */
  describe: string;
}

export interface KeylessTrust {
  roots: ParsedCertificate[];
  rekorKeys: PublicKeyInfo[];
  identities: IdentityMatcher[];
}

export interface AttestationRequirement {
  predicateType: string;
  keys: TrustedKey[];
  keyless: KeylessTrust | null;
}

export interface VerificationPolicy {
  keys: TrustedKey[];
  /** null when no keyless identity is trusted for signatures. */
  keyless: KeylessTrust | null;
  attestations: AttestationRequirement[];
}

/** A trust file that cannot be used; `path` is the configuration key (e.g. `keys[0]`). */
export class TrustConfigError extends Error {
  override readonly name = 'TrustConfigError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

const MAX_TRUST_FILE_BYTES = 1024 * 1024;
const MAX_ROOTS = 32;

/** Reads every file a `gates.signature` configuration names; relative paths resolve against `baseDir`. */
export function loadVerificationPolicy(config: SignatureGateConfig, baseDir: string): VerificationPolicy {
  const read = (file: string, at: string): string => {
    const full = isAbsolute(file) ? file : resolve(baseDir, file);
    try {
      if (statSync(full).size > MAX_TRUST_FILE_BYTES)
        throw new TrustConfigError(at, `${file} is larger than ${MAX_TRUST_FILE_BYTES} bytes`);
      return readFileSync(full, 'utf8');
    } catch (err) {
      if (err instanceof TrustConfigError) throw err;
      throw new TrustConfigError(at, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const key = (file: string, at: string): TrustedKey => {
    try {
      return { ...readPublicKey(read(file, at), file), source: file };
    } catch (err) {
      if (err instanceof TrustConfigError) throw err;
      throw new TrustConfigError(at, (err as Error).message);
    }
  };
  const keys = (files: string[], at: string) => files.map((f, i) => key(f, `${at}[${i}]`));

  let roots: ParsedCertificate[] | null = null;
  let rekorKeys: PublicKeyInfo[] | null = null;
  if (config.trustedRoot) {
    const at = 'trustedRoot.fulcioRoots';
    const file = config.trustedRoot.fulcioRoots;
    try {
      roots = pemCertificates(read(file, at), MAX_ROOTS);
    } catch (err) {
      if (err instanceof TrustConfigError) throw err;
      throw new TrustConfigError(at, `${file}: ${(err as Error).message}`);
    }
    if (roots.length === 0) throw new TrustConfigError(at, `${file} holds no PEM CERTIFICATE`);
    if (roots.some((r) => !r.x509.ca)) throw new TrustConfigError(at, `${file}: every certificate must be a CA certificate`);
    rekorKeys = keys(config.trustedRoot.rekorKey, 'trustedRoot.rekorKey');
  }
  const keyless = (identities: SignatureIdentityConfig[]): KeylessTrust | null =>
    identities.length === 0 || !roots || !rekorKeys ? null : { roots, rekorKeys, identities: identities.map(identityMatcher) };

  return {
    keys: keys(config.keys, 'keys'),
    keyless: keyless(config.identities),
    attestations: config.attestations.map((a, i) => ({
      predicateType: a.predicateType,
      keys: keys(a.keys, `attestations[${i}].keys`),
      keyless: keyless(a.identities),
    })),
  };
}

export function identityMatcher(id: SignatureIdentityConfig): IdentityMatcher {
  const issuer = id.issuer !== undefined ? `issuer ${id.issuer}` : `issuer ~ /${id.issuerRegExp}/`;
  const subject = id.subject !== undefined ? `subject ${id.subject}` : `subject ~ /${id.subjectRegExp}/`;
  return {
    ...(id.issuer !== undefined ? { issuer: id.issuer } : {}),
    ...(id.issuerRegExp !== undefined ? { issuerRegExp: new RegExp(id.issuerRegExp, 'u') } : {}),
    ...(id.subject !== undefined ? { subject: id.subject } : {}),
    ...(id.subjectRegExp !== undefined ? { subjectRegExp: new RegExp(id.subjectRegExp, 'u') } : {}),
    describe: `${issuer}, ${subject}`,
  };
}

/** Regular expressions match anywhere unless anchored, as cosign's `--certificate-identity-regexp` does. */
export function issuerMatches(m: IdentityMatcher, issuer: string): boolean {
  return m.issuer !== undefined ? m.issuer === issuer : m.issuerRegExp!.test(issuer);
}

export function subjectMatches(m: IdentityMatcher, subject: string): boolean {
  return m.subject !== undefined ? m.subject === subject : m.subjectRegExp!.test(subject);
}
