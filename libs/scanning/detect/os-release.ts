import type { OsInfo } from '../packages.js';

/** `KEY=value` lines, values optionally quoted (os-release(5)). */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    }
    out.set(line.slice(0, eq).trim(), value);
  }
  return out;
}

export function osInfo(text: string): OsInfo | null {
  const fields = parseOsRelease(text);
  const id = fields.get('ID')?.toLowerCase();
  if (!id) return null;
  const versionId = fields.get('VERSION_ID') ?? null;
  return {
    id,
    versionId,
    codename: fields.get('VERSION_CODENAME') ?? null,
    prettyName: fields.get('PRETTY_NAME') ?? null,
    ecosystem: osvEcosystem(id, versionId, fields.get('VERSION') ?? ''),
  };
}

/**
 * The OSV ecosystem of a distribution's packages: `Debian:12`; `Ubuntu:22.04:LTS` for LTS
 * releases (OSV's form), `Ubuntu:23.10` otherwise; `Alpine:v3.19` (major.minor of VERSION_ID).
 */
export function osvEcosystem(id: string, versionId: string | null, version: string): string | null {
  switch (id) {
    case 'debian': {
      const major = versionId?.match(/^\d+/)?.[0];
      return major ? `Debian:${major}` : 'Debian';
    }
    case 'ubuntu': {
      const release = versionId?.match(/^\d+\.\d+/)?.[0];
      if (!release) return 'Ubuntu';
      return isUbuntuLts(release, version) ? `Ubuntu:${release}:LTS` : `Ubuntu:${release}`;
    }
    case 'alpine': {
      const release = versionId?.match(/^\d+\.\d+/)?.[0];
      return release ? `Alpine:v${release}` : 'Alpine';
    }
    default:
      return null;
  }
}

// VERSION says "22.04.4 LTS (Jammy Jellyfish)"; minimal images may drop it, and LTS releases are
// exactly the April releases of even years.
function isUbuntuLts(release: string, version: string): boolean {
  if (/\bLTS\b/.test(version)) return true;
  const [year, month] = release.split('.').map(Number);
  return version === '' && month === 4 && year % 2 === 0;
}
