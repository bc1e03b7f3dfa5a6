import type { Finding } from '../findings.js';
import { dateOf, dedupe, digestIn, ecosystemOf, osEcosystem, severityOf, type ParsedReport } from './normalise.js';
import { arr, isObject, optStr, ReportError, str } from './report-error.js';

/**
 * A Trivy JSON report (`trivy image --format json`, SchemaVersion 2): `Results[].Vulnerabilities[]`.
 * The image is named by `Metadata.RepoDigests` (`repo@sha256:…`) or an `ArtifactName` by digest.
 */
export function parseTrivyReport(json: unknown): ParsedReport {
  if (!isObject(json)) throw new ReportError('malformed', 'the Trivy report is not a JSON object');
  if (json.SchemaVersion !== 2) {
    throw new ReportError(
      'malformed',
      `the Trivy report has SchemaVersion ${JSON.stringify(json.SchemaVersion ?? null)}; only 2 (Trivy ≥ 0.20) is read`,
    );
  }
  const metadata = isObject(json.Metadata) ? json.Metadata : {};
  const os = isObject(metadata.OS) ? osEcosystem(optStr(metadata.OS, 'Family'), optStr(metadata.OS, 'Name')) : null;
  const digests = new Set<string>();
  for (const d of [json.ArtifactName, ...arr(metadata, 'RepoDigests', 'Metadata')]) {
    const digest = digestIn(d);
    if (digest) digests.add(digest);
  }

  const findings: Finding[] = [];
  arr(json, 'Results', 'report').forEach((result, r) => {
    const at = `Results[${r}]`;
    if (!isObject(result)) throw new ReportError('malformed', `${at} is not an object`);
    const cls = optStr(result, 'Class');
    const type = optStr(result, 'Type');
    const ecosystem = cls === 'os-pkgs' ? (os ?? ecosystemOf(type, null)) : ecosystemOf(type, os);
    arr(result, 'Vulnerabilities', at).forEach((v, i) => {
      const where = `${at}.Vulnerabilities[${i}]`;
      if (!isObject(v)) throw new ReportError('malformed', `${where} is not an object`);
      const identifier = isObject(v.PkgIdentifier) ? v.PkgIdentifier : {};
      findings.push({
        id: str(v, 'VulnerabilityID', where),
        aliases: [],
        package: str(v, 'PkgName', where),
        ecosystem,
        purl: optStr(identifier, 'PURL'),
        installedVersion: str(v, 'InstalledVersion', where),
        // Trivy lists several fixing versions comma-separated (one per branch); the first is the nearest.
        fixedVersion: optStr(v, 'FixedVersion')?.split(',')[0]!.trim() || null,
        severity: severityOf(v.Severity),
        cvssScore: bestCvss(v.CVSS),
        source: 'trivy',
        title: optStr(v, 'Title'),
      });
    });
  });
  return {
    format: 'trivy',
    scanner: { name: 'trivy', version: isObject(json.Trivy) ? optStr(json.Trivy, 'Version') : null, dbBuiltAt: null },
    scannedAt: dateOf(json.CreatedAt),
    digests: [...digests],
    findings: dedupe(findings),
  };
}

/** `CVSS: { nvd: { V3Score, V40Score }, redhat: {…} }`: the highest v4 or v3 score any source gives. */
function bestCvss(cvss: unknown): number | null {
  if (!isObject(cvss)) return null;
  let best: number | null = null;
  for (const source of Object.values(cvss)) {
    if (!isObject(source)) continue;
    for (const key of ['V40Score', 'V3Score']) {
      const s = source[key];
      if (typeof s === 'number' && s >= 0 && s <= 10 && (best === null || s > best)) best = s;
    }
  }
  return best;
}
