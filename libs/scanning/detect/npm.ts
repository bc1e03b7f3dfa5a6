import type { Package } from '../packages.js';
import { purl } from '../purl.js';

const NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/i;

export function npmPackage(name: string, version: string, foundIn: string): Package {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  const namespace = slash > 0 ? name.slice(0, slash) : null;
  const bare = slash > 0 ? name.slice(slash + 1) : name;
  return {
    type: 'npm',
    name,
    version,
    ecosystem: 'npm',
    purl: purl('npm', namespace, bare, version),
    sourceName: null,
    sourceVersion: null,
    arch: null,
    foundIn,
  };
}

/** An installed package's own `node_modules/<name>/package.json` (or `node_modules/@scope/<name>/…`). */
export function npmInstalledPackage(text: string, foundIn: string): Package | null {
  const json = parseJson(text);
  if (!json || typeof json.name !== 'string' || typeof json.version !== 'string' || !NAME.test(json.name) || json.version === '')
    return null;
  return npmPackage(json.name, json.version, foundIn);
}

/**
 * A `package-lock.json` (lockfileVersion 2 or 3) `packages` map: keys are install paths
 * (`node_modules/a/node_modules/@s/b`), the root `""` is the project itself. Dev dependencies
 * and links are left out: production images are installed without them.
 */
export function npmLockPackages(text: string, foundIn: string): Package[] {
  const json = parseJson(text);
  const packages = json?.packages;
  if (!packages || typeof packages !== 'object' || Array.isArray(packages)) return [];
  const out: Package[] = [];
  for (const [key, value] of Object.entries(packages as Record<string, unknown>)) {
    if (key === '' || !value || typeof value !== 'object') continue;
    const entry = value as { version?: unknown; name?: unknown; dev?: unknown; link?: unknown };
    if (entry.link === true || entry.dev === true || typeof entry.version !== 'string') continue;
    const at = key.lastIndexOf('node_modules/');
    const name = typeof entry.name === 'string' ? entry.name : at >= 0 ? key.slice(at + 'node_modules/'.length) : null;
    if (!name || !NAME.test(name)) continue;
    out.push(npmPackage(name, entry.version, foundIn));
  }
  return out;
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
