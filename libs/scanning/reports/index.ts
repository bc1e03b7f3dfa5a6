import type { ParsedReport } from './normalise.js';
import { ReportError, isObject } from './report-error.js';
import { parseGrypeReport } from './grype.js';
import { parseTrivyReport } from './trivy.js';
import { parseVulnAttestation, type ParsedAttestation } from './vuln-attestation.js';

export { ReportError } from './report-error.js';
export { severityOf, type ParsedReport } from './normalise.js';
export { parseTrivyReport } from './trivy.js';
export { parseGrypeReport } from './grype.js';
export { parseVulnAttestation, parseVulnStatement, VULN_PREDICATE_TYPE, type ParsedAttestation } from './vuln-attestation.js';

export const REPORT_FORMATS = ['trivy', 'grype', 'attestation'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Trivy has `SchemaVersion`, Grype `matches`, an attestation is a DSSE envelope (`payloadType`). */
export function detectReportFormat(report: unknown): ReportFormat | null {
  if (!isObject(report)) return null;
  if ('SchemaVersion' in report) return 'trivy';
  if ('matches' in report) return 'grype';
  if ('payloadType' in report || '_type' in report) return 'attestation';
  return null;
}

/**
 * Parses a report for one image digest: refused (ReportError) when it does not parse as its format,
 * names no digest, or names digests none of which is `digest`.
 */
export function parseReportFor(digest: string, report: unknown, format?: ReportFormat): ParsedReport | ParsedAttestation {
  const kind = format ?? detectReportFormat(report);
  if (!kind)
    throw new ReportError('malformed', 'the report is not a Trivy JSON report, a Grype JSON report or a DSSE vulnerability attestation');
  const parsed = kind === 'trivy' ? parseTrivyReport(report) : kind === 'grype' ? parseGrypeReport(report) : parseVulnAttestation(report);
  if (parsed.digests.length === 0) {
    throw new ReportError(
      'wrong_digest',
      `the ${kind} report names no image digest; scan the image by digest (repo@sha256:…) so the report says which image it covers`,
    );
  }
  if (!parsed.digests.includes(digest)) {
    throw new ReportError('wrong_digest', `the ${kind} report is for ${parsed.digests.join(', ')}, not ${digest}`);
  }
  return parsed;
}
