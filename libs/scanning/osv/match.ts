import type { Finding } from '../findings.js';
import type { Package } from '../packages.js';
import { compareVersions, schemeOf, type VersionScheme } from '../versions/index.js';
import { packageKey, type AffectedRange, type AffectedSpec, type VulnEntry } from './record.js';

/** The (ecosystem, name, version) an OSV record about this package uses. */
export interface LookupKey {
  /** Exact ecosystems whose records apply: the release's (`Debian:12`) and the release-less family (`Debian`). */
  ecosystems: string[];
  name: string;
  version: string;
}

/**
 * Debian, Ubuntu and Alpine records name source packages and their versions (`openssl`, not
 * `libssl3`), so binaries are looked up by their source; a release's records apply only to that
 * release.
 */
export function lookupKey(p: Package): LookupKey {
  const family = p.ecosystem.split(':')[0];
  const ecosystems = family === p.ecosystem ? [p.ecosystem] : [p.ecosystem, family];
  if (p.type === 'deb' || p.type === 'apk') return { ecosystems, name: p.sourceName ?? p.name, version: p.sourceVersion ?? p.version };
  return { ecosystems, name: packageKey(p.ecosystem, p.name), version: p.version };
}

export interface Affection {
  affected: boolean;
  fixedVersion: string | null;
}

/** Whether `version` falls in the entry's ranges or versions, and the first fixed version above it. */
export function affects(entry: Pick<VulnEntry, 'ecosystem' | 'affected'>, version: string): Affection {
  const scheme = schemeOf(entry.ecosystem);
  if (!scheme) return { affected: false, fixedVersion: null };
  let affected = false;
  let fixedVersion: string | null = null;
  for (const spec of entry.affected) {
    const hit = affectsSpec(spec, version, scheme);
    if (!hit.affected) continue;
    affected = true;
    if (hit.fixedVersion && (fixedVersion === null || compareVersions(scheme, hit.fixedVersion, fixedVersion) < 0))
      fixedVersion = hit.fixedVersion;
  }
  return { affected, fixedVersion };
}

function affectsSpec(spec: AffectedSpec, version: string, scheme: VersionScheme): Affection {
  let affected = spec.versions.some((v) => v === version || compareVersions(scheme, v, version) === 0);
  let fixedVersion: string | null = null;
  for (const range of spec.ranges) {
    const rangeScheme: VersionScheme = range.type === 'SEMVER' ? 'semver' : scheme;
    if (!inRange(range, version, rangeScheme)) continue;
    affected = true;
    const fix = firstFixAbove(range, version, rangeScheme);
    if (fix && (fixedVersion === null || compareVersions(rangeScheme, fix, fixedVersion) < 0)) fixedVersion = fix;
  }
  return { affected, fixedVersion };
}

/** OSV's evaluation: walk the events in version order; introduced opens, fixed and last_affected close. */
function inRange(range: AffectedRange, version: string, scheme: VersionScheme): boolean {
  const events = sortedEvents(range, scheme);
  let vulnerable = false;
  for (const e of events) {
    if ('introduced' in e) {
      if (e.introduced === '0' || compareVersions(scheme, version, e.introduced) >= 0) vulnerable = true;
    } else if ('fixed' in e) {
      if (compareVersions(scheme, version, e.fixed) >= 0) vulnerable = false;
    } else if ('last_affected' in e) {
      if (compareVersions(scheme, version, e.last_affected) > 0) vulnerable = false;
    } else if ('limit' in e) {
      if (e.limit !== '*' && compareVersions(scheme, version, e.limit) >= 0) vulnerable = false;
    }
  }
  return vulnerable;
}

function eventVersion(e: AffectedRange['events'][number]): string {
  return 'introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : 'last_affected' in e ? e.last_affected : e.limit;
}

function sortedEvents(range: AffectedRange, scheme: VersionScheme): AffectedRange['events'] {
  return [...range.events].sort((a, b) => {
    const va = eventVersion(a);
    const vb = eventVersion(b);
    if (va === vb) return 0;
    if ('introduced' in a && va === '0') return -1;
    if ('introduced' in b && vb === '0') return 1;
    return compareVersions(scheme, va, vb);
  });
}

function firstFixAbove(range: AffectedRange, version: string, scheme: VersionScheme): string | null {
  let best: string | null = null;
  for (const e of range.events) {
    if (!('fixed' in e) || compareVersions(scheme, e.fixed, version) <= 0) continue;
    if (best === null || compareVersions(scheme, e.fixed, best) < 0) best = e.fixed;
  }
  return best;
}

/** Findings for the packages from the entries looked up for them; one per (id, package, version). */
export function matchEntries(packages: readonly Package[], entries: readonly VulnEntry[]): Finding[] {
  const byKey = new Map<string, VulnEntry[]>();
  for (const e of entries) {
    const k = `${e.ecosystem}\u0000${e.package}`;
    const list = byKey.get(k);
    if (list) list.push(e);
    else byKey.set(k, [e]);
  }
  const findings = new Map<string, Finding>();
  for (const p of packages) {
    const key = lookupKey(p);
    for (const ecosystem of key.ecosystems) {
      for (const entry of byKey.get(`${ecosystem}\u0000${key.name}`) ?? []) {
        const hit = affects(entry, key.version);
        if (!hit.affected) continue;
        const id = `${entry.id}\u0000${p.ecosystem}\u0000${p.name}\u0000${p.version}`;
        const existing = findings.get(id);
        if (existing && existing.fixedVersion !== null) continue;
        findings.set(id, {
          id: entry.id,
          aliases: entry.aliases,
          package: p.name,
          ecosystem: p.ecosystem,
          purl: p.purl,
          installedVersion: p.version,
          fixedVersion: hit.fixedVersion,
          severity: entry.severity,
          cvssScore: entry.cvssScore,
          source: 'builtin',
          title: entry.summary,
        });
      }
    }
  }
  return [...findings.values()].sort(compareFindings);
}

function compareFindings(a: Finding, b: Finding): number {
  return a.package < b.package ? -1 : a.package > b.package ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
