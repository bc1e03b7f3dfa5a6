import type { Finding, Severity } from '../findings.js';

/** Trivy: UNKNOWN..CRITICAL; Grype: Unknown, Negligible, Low..Critical. Negligible counts as low. */
export function severityOf(text: unknown): Severity {
  switch (typeof text === 'string' ? text.toLowerCase() : '') {
    case 'critical':
      return 'critical';
    case 'high':
      return 'high';
    case 'medium':
    case 'moderate':
      return 'medium';
    case 'low':
    case 'negligible':
      return 'low';
    default:
      return 'unknown';
  }
}

/** Language package types (Trivy `Type`, Grype `artifact.type`) → OSV ecosystem names. */
const LANGUAGE_ECOSYSTEMS: Record<string, string> = {
  npm: 'npm',
  'node-pkg': 'npm',
  yarn: 'npm',
  pnpm: 'npm',
  python: 'PyPI',
  'python-pkg': 'PyPI',
  pip: 'PyPI',
  pipenv: 'PyPI',
  poetry: 'PyPI',
  gomod: 'Go',
  gobinary: 'Go',
  'go-module': 'Go',
  jar: 'Maven',
  pom: 'Maven',
  'java-archive': 'Maven',
  cargo: 'crates.io',
  'rust-crate': 'crates.io',
  gemspec: 'RubyGems',
  bundler: 'RubyGems',
  gem: 'RubyGems',
  nuget: 'NuGet',
  dotnet: 'NuGet',
  composer: 'Packagist',
  'php-composer': 'Packagist',
};

/** OS families → the OSV ecosystem with release (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04`). */
export function osEcosystem(family: string | null, version: string | null): string | null {
  if (!family) return null;
  const f = family.toLowerCase();
  const v = version ?? '';
  if (f === 'debian') return v ? `Debian:${v.split('.')[0]}` : 'Debian';
  if (f === 'alpine') return v ? `Alpine:v${v.split('.').slice(0, 2).join('.')}` : 'Alpine';
  if (f === 'ubuntu') return v ? `Ubuntu:${v.split('.').slice(0, 2).join('.')}` : 'Ubuntu';
  return v ? `${family}:${v}` : family;
}

/** Package type → ecosystem: OS packages take the distribution's, language packages their registry's. */
export function ecosystemOf(type: string | null, os: string | null): string {
  const t = (type ?? '').toLowerCase();
  if (LANGUAGE_ECOSYSTEMS[t]) return LANGUAGE_ECOSYSTEMS[t]!;
  if (['deb', 'debian', 'ubuntu', 'apk', 'alpine', 'rpm', 'redhat', 'centos', 'rocky', 'alma', 'amazon'].includes(t)) return os ?? t;
  return os && t === '' ? os : t || 'unknown';
}

/** One finding per (id, package, installed version): scanners repeat them across targets and layers. */
export function dedupe(findings: Finding[]): Finding[] {
  const seen = new Map<string, Finding>();
  for (const f of findings) {
    const key = `${f.id}\u0000${f.ecosystem}\u0000${f.package}\u0000${f.installedVersion}`;
    const prev = seen.get(key);
    if (!prev) seen.set(key, f);
    else if (!prev.fixedVersion && f.fixedVersion) seen.set(key, { ...f, aliases: [...new Set([...prev.aliases, ...f.aliases])] });
  }
  return [...seen.values()].sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : a.package < b.package ? -1 : a.package > b.package ? 1 : 0,
  );
}

/** What one parsed report says: its findings and which image digests and scanner it names. */
export interface ParsedReport {
  format: 'trivy' | 'grype' | 'attestation';
  scanner: { name: string; version: string | null; dbBuiltAt: string | null };
  /** When the scan ran, as the report says; null when it does not. */
  scannedAt: Date | null;
  /** Every `sha256:` digest the report says it was made for (manifest, index via repo digests, subject). */
  digests: string[];
  findings: Finding[];
}

/** `repo@sha256:…` or a bare digest → the digest; anything else → null. */
export function digestIn(text: unknown): string | null {
  if (typeof text !== 'string') return null;
  const m = /(?:^|@)(sha256:[0-9a-f]{64})$/.exec(text);
  return m ? m[1]! : null;
}

export function dateOf(text: unknown): Date | null {
  if (typeof text !== 'string') return null;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? null : d;
}
