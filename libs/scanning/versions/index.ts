import pep440 from '@renovatebot/pep440';
import semver from 'semver';
import { compareApk } from './apk.js';
import { compareDpkg } from './dpkg.js';

export { compareDpkg, parseDpkg } from './dpkg.js';
export { compareApk, parseApk } from './apk.js';

export type VersionScheme = 'dpkg' | 'apk' | 'semver' | 'pep440';

/** The version order of an OSV ecosystem (`Debian:12` → dpkg); null for ecosystems we do not match. */
export function schemeOf(ecosystem: string): VersionScheme | null {
  const family = ecosystem.split(':')[0];
  switch (family) {
    case 'Debian':
    case 'Ubuntu':
      return 'dpkg';
    case 'Alpine':
      return 'apk';
    case 'npm':
      return 'semver';
    case 'PyPI':
      return 'pep440';
    default:
      return null;
  }
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in the scheme's order. */
export function compareVersions(scheme: VersionScheme, a: string, b: string): number {
  switch (scheme) {
    case 'dpkg':
      return compareDpkg(a, b);
    case 'apk':
      return compareApk(a, b);
    case 'semver':
      return compareSemver(a, b);
    case 'pep440':
      return comparePep440(a, b);
  }
}

/** semver 2.0 precedence (build metadata ignored); `v1.2.3` is accepted. */
export function compareSemver(a: string, b: string): number {
  const x = semver.parse(a, { loose: true });
  const y = semver.parse(b, { loose: true });
  if (x && y) return x.compare(y);
  return fallback(a, b);
}

/** PEP 440 order: epochs, release segments, pre/post/dev releases, local versions. */
export function comparePep440(a: string, b: string): number {
  if (pep440.valid(a) && pep440.valid(b)) return Math.sign(pep440.compare(a, b));
  return fallback(a, b);
}

// Versions a scheme cannot parse still need a total order; string order is at least stable.
function fallback(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
