/**
 * The findings model every vulnerability source is normalised into: the built-in scanner (SBOM +
 * OSV match), Trivy and Grype JSON reports, and cosign vulnerability attestations.
 */

export const SEVERITIES = ['unknown', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SCAN_SOURCES = ['builtin', 'trivy', 'grype', 'attestation'] as const;
export type ScanSource = (typeof SCAN_SOURCES)[number];

/** One vulnerability in one installed package of one image. */
export interface Finding {
  /** The advisory id as its source names it (CVE-…, GHSA-…, DSA-…, OSV id). */
  id: string;
  /** Other ids of the same vulnerability (OSV `aliases`, Trivy/Grype related ids). */
  aliases: string[];
  /** Package name as the ecosystem knows it (`openssl`, `lodash`, `requests`). */
  package: string;
  /** OSV ecosystem, with release where it has one: `Debian:12`, `Alpine:v3.19`, `npm`, `PyPI`. */
  ecosystem: string;
  /** Package URL of the installed package, when known. */
  purl: string | null;
  installedVersion: string;
  /** The first version that fixes it, when there is one. */
  fixedVersion: string | null;
  severity: Severity;
  /** CVSS score behind the severity, when one was computed or reported. */
  cvssScore: number | null;
  source: ScanSource;
  title: string | null;
}

/** Orders severities: `atLeast('high', 'critical')` is true. */
export function atLeast(threshold: Severity, severity: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}

/** Counts by severity, every severity present (zero where none). */
export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}
