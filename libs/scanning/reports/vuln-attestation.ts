import {
  FormatError,
  parseDsseEnvelope,
  parseInTotoStatement,
  SigningMediaTypes,
  type DsseEnvelope,
  type InTotoStatement,
} from '#libs/signing/index.js';
import { dateOf, type ParsedReport } from './normalise.js';
import { isObject, optStr, ReportError } from './report-error.js';
import { parseGrypeReport } from './grype.js';
import { parseTrivyReport } from './trivy.js';

export const VULN_PREDICATE_TYPE = 'https://cosign.sigstore.dev/attestation/vuln/v1';

export interface ParsedAttestation extends ParsedReport {
  envelope: DsseEnvelope;
  statement: InTotoStatement;
}

/**
 * A cosign vulnerability attestation as `cosign attest --type vuln` writes it: a DSSE envelope
 * whose in-toto statement has the vuln/v1 predicate `{invocation, scanner {uri, version, db,
 * result}, metadata {scanStartedOn, scanFinishedOn}}`, where `scanner.result` is a Trivy or Grype report.
 * The digests are the statement's subjects; whether the signature is trusted is decided elsewhere.
 */
export function parseVulnAttestation(json: unknown): ParsedAttestation {
  if (isObject(json) && '_type' in json) {
    throw new ReportError(
      'unsigned',
      'an attestation must be the signed DSSE envelope ({payloadType, payload, signatures}), not a bare in-toto statement',
    );
  }
  let envelope: DsseEnvelope;
  let statement: InTotoStatement;
  try {
    envelope = parseDsseEnvelope(JSON.stringify(json));
    if (envelope.payloadType !== SigningMediaTypes.inTotoPayload)
      throw new FormatError(`payloadType is ${JSON.stringify(envelope.payloadType)}, not ${SigningMediaTypes.inTotoPayload}`);
    if (envelope.signatures.length === 0) throw new FormatError('the envelope has no signatures');
    statement = parseInTotoStatement(Buffer.from(envelope.payload, 'base64'));
  } catch (err) {
    if (err instanceof FormatError) throw new ReportError('malformed', `attestation: ${err.message}`);
    throw err;
  }
  return { ...parseVulnStatement(statement), envelope, statement };
}

export function parseVulnStatement(statement: InTotoStatement): ParsedReport {
  if (statement.predicateType !== VULN_PREDICATE_TYPE) {
    throw new ReportError(
      'malformed',
      `attestation predicateType is ${JSON.stringify(statement.predicateType)}, not ${VULN_PREDICATE_TYPE}`,
    );
  }
  const predicate = statement.predicate;
  if (!isObject(predicate) || !isObject(predicate.scanner)) throw new ReportError('malformed', 'attestation predicate has no scanner');
  const scanner = predicate.scanner;
  const metadata = isObject(predicate.metadata) ? predicate.metadata : {};
  const result = scanner.result;
  const inner =
    isObject(result) && 'SchemaVersion' in result
      ? parseTrivyReport(result)
      : isObject(result) && 'matches' in result
        ? parseGrypeReport(result)
        : null;
  if (!inner) throw new ReportError('malformed', 'attestation predicate.scanner.result is neither a Trivy nor a Grype JSON report');
  const digests = statement.subject
    .map((s) => s.digest.sha256)
    .filter((h): h is string => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
  const db = isObject(scanner.db) ? scanner.db : {};
  return {
    format: 'attestation',
    scanner: {
      name: optStr(scanner, 'uri') ?? inner.scanner.name,
      version: optStr(scanner, 'version') ?? inner.scanner.version,
      dbBuiltAt: optStr(db, 'version') ?? inner.scanner.dbBuiltAt,
    },
    scannedAt: dateOf(metadata.scanFinishedOn) ?? dateOf(metadata.scanStartedOn) ?? inner.scannedAt,
    digests: digests.map((h) => `sha256:${h}`),
    findings: inner.findings.map((f) => ({ ...f, source: 'attestation' as const })),
  };
}
