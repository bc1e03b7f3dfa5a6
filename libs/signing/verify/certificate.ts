import { X509Certificate } from 'node:crypto';
import { children, decodeOid, DerError, expectTag, parseDer, Tag, type DerNode } from './der.js';

/** Fulcio's OIDC issuer: v1 holds the raw string, v2 a DER UTF8String (preferred when both are there). */
export const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
export const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SAN = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_EKU = '2.5.29.37';
const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
/** Critical extensions this verifier understands; any other critical one makes a certificate unusable. */
const UNDERSTOOD_CRITICAL = new Set([OID_KEY_USAGE, OID_SAN, OID_BASIC_CONSTRAINTS, OID_EKU]);

/** Certificates larger than this are refused before parsing (Fulcio's are about 1 KiB). */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;
/** A chain annotation with more certificates than this is refused. */
export const MAX_CHAIN_CERTIFICATES = 8;

export interface ParsedCertificate {
  x509: X509Certificate;
  der: Buffer;
  notBefore: Date;
  notAfter: Date;
  uris: string[];
  emails: string[];
  /** The OIDC issuer Fulcio recorded, or null when the certificate has neither extension. */
  oidcIssuer: string | null;
  /** null when the certificate has no key usage extension. */
  digitalSignature: boolean | null;
  keyCertSign: boolean | null;
  /** null when the certificate has no extended key usage extension. */
  extendedKeyUsages: string[] | null;
  unknownCritical: string[];
}

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text, in order; at most `max` of them. */
export function pemCertificates(text: string, max = MAX_CHAIN_CERTIFICATES): ParsedCertificate[] {
  // Counted first: the pattern below rescans from every BEGIN marker, so their number must be small.
  if (text.split('-----BEGIN CERTIFICATE-----').length - 1 > max) throw new CertificateError(`more than ${max} certificates`);
  const out: ParsedCertificate[] = [];
  for (const m of text.matchAll(PEM_CERT)) {
    if (out.length >= max) throw new CertificateError(`more than ${max} certificates`);
    out.push(parseCertificate(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  if (der.length > MAX_CERTIFICATE_BYTES)
    throw new CertificateError(`certificate is ${der.length} bytes, more than ${MAX_CERTIFICATE_BYTES}`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw new CertificateError('not an X.509 certificate');
  }
  try {
    return { x509, der, ...readTbs(der) };
  } catch (err) {
    if (err instanceof DerError) throw new CertificateError(`certificate: ${err.message}`);
    throw err;
  }
}

function readTbs(der: Buffer): Omit<ParsedCertificate, 'x509' | 'der'> {
  const cert = children(expectTag(parseDer(der), Tag.sequence, 'certificate'));
  const tbs = children(expectTag(cert[0], Tag.sequence, 'tbsCertificate'));
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  i += 3; // serialNumber, signature, issuer
  const validity = children(expectTag(tbs[i], Tag.sequence, 'validity'));
  const notBefore = readTime(validity[0]);
  const notAfter = readTime(validity[1]);
  const extensions = tbs.find((n) => n.tag === 0xa3);

  const result: Omit<ParsedCertificate, 'x509' | 'der'> = {
    notBefore,
    notAfter,
    uris: [],
    emails: [],
    oidcIssuer: null,
    digitalSignature: null,
    keyCertSign: null,
    extendedKeyUsages: null,
    unknownCritical: [],
  };
  if (!extensions) return result;
  let issuerV1: string | null = null;
  let issuerV2: string | null = null;
  for (const ext of children(expectTag(children(extensions)[0], Tag.sequence, 'extensions'))) {
    const parts = children(expectTag(ext, Tag.sequence, 'extension'));
    const oid = decodeOid(parts[0]!);
    const critical = parts.length === 3 && parts[1]!.tag === Tag.boolean && parts[1]!.value[0] !== 0;
    const value = expectTag(parts[parts.length - 1], Tag.octetString, `extension ${oid}`).value;
    if (critical && !UNDERSTOOD_CRITICAL.has(oid)) result.unknownCritical.push(oid);
    switch (oid) {
      case OID_SAN:
        for (const name of children(expectTag(parseDer(value), Tag.sequence, 'subjectAltName'))) {
          // [1] rfc822Name and [6] uniformResourceIdentifier, both IA5String, IMPLICIT.
          if (name.tag === 0x81) result.emails.push(name.value.toString('latin1'));
          else if (name.tag === 0x86) result.uris.push(name.value.toString('latin1'));
        }
        break;
      case OID_KEY_USAGE: {
        const bits = expectTag(parseDer(value), Tag.bitString, 'keyUsage').value;
        const first = bits.length > 1 ? bits[1]! : 0;
        result.digitalSignature = (first & 0x80) !== 0;
        result.keyCertSign = (first & 0x04) !== 0;
        break;
      }
      case OID_EKU:
        result.extendedKeyUsages = children(expectTag(parseDer(value), Tag.sequence, 'extKeyUsage')).map(decodeOid);
        break;
      case OID_ISSUER_V1:
        issuerV1 = value.toString('utf8');
        break;
      case OID_ISSUER_V2:
        issuerV2 = expectTag(parseDer(value), Tag.utf8String, 'OIDC issuer').value.toString('utf8');
        break;
    }
  }
  result.oidcIssuer = issuerV2 ?? issuerV1;
  return result;
}

function readTime(node: DerNode | undefined): Date {
  if (!node || (node.tag !== 0x17 && node.tag !== 0x18)) throw new DerError('validity: expected UTCTime or GeneralizedTime');
  const text = node.value.toString('latin1');
  const m = (node.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(
    text,
  );
  if (!m) throw new DerError(`validity: malformed time ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (node.tag === 0x17) year += year < 50 ? 2000 : 1900; // RFC 5280: UTCTime years 50-99 are 19xx
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export function validAt(cert: ParsedCertificate, at: Date): boolean {
  return cert.notBefore.getTime() <= at.getTime() && at.getTime() <= cert.notAfter.getTime();
}

/** Why a certificate cannot sign code, or null when it can (Fulcio: digitalSignature + codeSigning). */
export function codeSigningProblem(cert: ParsedCertificate): string | null {
  if (cert.unknownCritical.length > 0) return `unsupported critical extension ${cert.unknownCritical.join(', ')}`;
  if (cert.x509.ca) return 'the signing certificate is a CA certificate';
  if (cert.digitalSignature === false) return 'key usage lacks digitalSignature';
  if (cert.extendedKeyUsages !== null && !cert.extendedKeyUsages.includes(OID_CODE_SIGNING)) return 'extended key usage lacks codeSigning';
  if (cert.extendedKeyUsages === null) return 'no extended key usage (Fulcio certificates carry codeSigning)';
  return null;
}

export interface ChainResult {
  ok: boolean;
  /** The certificates from the leaf up to the trusted one, subjects only (for evidence). */
  path: string[];
  problem?: string;
}

const MAX_PATH = 6;

/**
 * Builds a path from `leaf` through `intermediates` to one of `roots` (any certificate in the
 * configured roots file is a trust anchor). Issuers must be CAs allowed to sign certificates and
 * valid at `at` (cosign checks the chain at the leaf's notBefore).
 */
export function verifyChain(
  leaf: ParsedCertificate,
  intermediates: ParsedCertificate[],
  roots: ParsedCertificate[],
  at: Date,
): ChainResult {
  const path = [subjectOf(leaf)];
  let current = leaf;
  const used = new Set<ParsedCertificate>();
  for (let depth = 0; depth < MAX_PATH; depth++) {
    const root = roots.find((r) => issuedBy(current, r, at));
    if (root) {
      path.push(subjectOf(root));
      return { ok: true, path };
    }
    const next = intermediates.find((c) => !used.has(c) && issuedBy(current, c, at));
    if (!next) {
      return { ok: false, path, problem: `no trusted root or valid intermediate issued "${subjectOf(current)}"` };
    }
    used.add(next);
    path.push(subjectOf(next));
    current = next;
  }
  return { ok: false, path, problem: `no trusted root within ${MAX_PATH} certificates` };
}

/** One-line subject; Fulcio leaves have an empty one (the identity is in the SAN). */
function subjectOf(cert: ParsedCertificate): string {
  return (cert.x509.subject ?? '').replace(/\n/g, ', ') || '(empty subject)';
}

function issuedBy(subject: ParsedCertificate, issuer: ParsedCertificate, at: Date): boolean {
  if (!issuer.x509.ca || issuer.keyCertSign === false || issuer.unknownCritical.length > 0) return false;
  if (!validAt(issuer, at)) return false;
  try {
    return subject.x509.checkIssued(issuer.x509) && subject.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

export function pemOf(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}
