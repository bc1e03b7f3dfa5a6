import type { Package } from '../packages.js';
import { purl } from '../purl.js';
import { headers } from './rfc822.js';

/** PEP 503 normalised name, the form OSV's PyPI records and pypi purls use. */
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** An installed distribution's `*.dist-info/METADATA` (or `*.egg-info/PKG-INFO`): `Name` and `Version` headers. */
export function pythonPackage(text: string, foundIn: string): Package | null {
  const h = headers(text);
  const name = h.get('name');
  const version = h.get('version');
  if (!name || !version) return null;
  const normalized = normalizePypiName(name);
  return {
    type: 'pypi',
    name: normalized,
    version,
    ecosystem: 'PyPI',
    purl: purl('pypi', null, normalized, version),
    sourceName: null,
    sourceVersion: null,
    arch: null,
    foundIn,
  };
}
