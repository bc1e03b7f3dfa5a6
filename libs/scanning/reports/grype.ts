import type { Finding } from '../findings.js';
import { dateOf, dedupe, digestIn, ecosystemOf, osEcosystem, severityOf, type ParsedReport } from './normalise.js';
import { arr, isObject, optStr, ReportError, str } from './report-error.js';

/**
 * A Grype JSON report (`grype <image> -o json`): `matches[]` of vulnerability and artifact. The image
 * is named by `source.target.manifestDigest` or one of its `repoDigests`; `descriptor` names Grype.
 */
export function parseGrypeReport(json: unknown): ParsedReport {
  if (!isObject(json)) throw new ReportError('malformed', 'the Grype report is not a JSON object');
  if (!Array.isArray(json.matches)) throw new ReportError('malformed', 'the Grype report has no matches array');
  const distro = isObject(json.distro) ? osEcosystem(optStr(json.distro, 'name'), optStr(json.distro, 'version')) : null;
  const descriptor = isObject(json.descriptor) ? json.descriptor : {};
  const db = isObject(descriptor.db) ? descriptor.db : {};
  const source = isObject(json.source) ? json.source : {};
  const target = isObject(source.target) ? source.target : {};
  const digests = new Set<string>();
  for (const d of [target.manifestDigest, target.userInput, ...arr(target, 'repoDigests', 'source.target')]) {
    const digest = digestIn(d);
    if (digest) digests.add(digest);
  }

  const findings: Finding[] = json.matches.map((m, i): Finding => {
    const at = `matches[${i}]`;
    if (!isObject(m)) throw new ReportError('malformed', `${at} is not an object`);
    if (!isObject(m.vulnerability)) throw new ReportError('malformed', `${at}.vulnerability is missing`);
    if (!isObject(m.artifact)) throw new ReportError('malformed', `${at}.artifact is missing`);
    const v = m.vulnerability;
    const a = m.artifact;
    const fix = isObject(v.fix) ? v.fix : {};
    const fixed = fix.state === 'fixed' ? arr(fix, 'versions', `${at}.vulnerability.fix`).find((x) => typeof x === 'string') : undefined;
    const related = arr(m, 'relatedVulnerabilities', at)
      .map((r) => (isObject(r) ? optStr(r, 'id') : null))
      .filter((id): id is string => id !== null);
    const id = str(v, 'id', `${at}.vulnerability`);
    return {
      id,
      aliases: [...new Set(related.filter((r) => r !== id))],
      package: str(a, 'name', `${at}.artifact`),
      ecosystem: ecosystemOf(optStr(a, 'type'), distro),
      purl: optStr(a, 'purl'),
      installedVersion: str(a, 'version', `${at}.artifact`),
      fixedVersion: (fixed as string | undefined) ?? null,
      severity: severityOf(v.severity),
      cvssScore: bestCvss([
        ...arr(v, 'cvss', `${at}.vulnerability`),
        ...arr(m, 'relatedVulnerabilities', at).flatMap((r) => (isObject(r) ? arr(r, 'cvss', at) : [])),
      ]),
      source: 'grype',
      title: optStr(v, 'description')?.slice(0, 300) ?? null,
    };
  });
  return {
    format: 'grype',
    scanner: { name: optStr(descriptor, 'name') ?? 'grype', version: optStr(descriptor, 'version'), dbBuiltAt: optStr(db, 'built') },
    scannedAt: dateOf(descriptor.timestamp),
    digests: [...digests],
    findings: dedupe(findings),
  };
}

/** `cvss: [{ version, vector, metrics: { baseScore } }]`: the highest base score. */
function bestCvss(entries: unknown[]): number | null {
  let best: number | null = null;
  for (const e of entries) {
    if (!isObject(e) || !isObject(e.metrics)) continue;
    const s = e.metrics.baseScore;
    if (typeof s === 'number' && s >= 0 && s <= 10 && (best === null || s > best)) best = s;
  }
  return best;
}
