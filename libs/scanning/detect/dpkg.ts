import type { OsInfo, Package } from '../packages.js';
import { purl } from '../purl.js';
import { stanzas } from './rfc822.js';

/**
 * Debian packages from a dpkg database: `var/lib/dpkg/status` (only `install ok installed`
 * stanzas count: removed or half-configured packages leave stanzas behind) or a distroless
 * `var/lib/dpkg/status.d/<name>` file (one stanza per file, usually without a Status field).
 */
export function dpkgPackages(text: string, foundIn: string, os: OsInfo | null, requireInstalled: boolean): Package[] {
  const out: Package[] = [];
  for (const s of stanzas(text)) {
    const name = s.get('package');
    const version = s.get('version');
    if (!name || !version) continue;
    const status = s.get('status');
    if (requireInstalled ? status !== 'install ok installed' : status !== undefined && !status.endsWith(' installed')) continue;
    const source = parseSource(s.get('source'), name, version);
    const arch = s.get('architecture') ?? null;
    out.push({
      type: 'deb',
      name,
      version,
      ecosystem: os?.ecosystem ?? 'Debian',
      purl: debPurl(name, version, arch, source.name !== name ? source.name : null, os),
      sourceName: source.name,
      sourceVersion: source.version,
      arch,
      foundIn,
    });
  }
  return out;
}

/** `Source: openssl` or `Source: openssl (3.0.11-1)`: the source version differs after a binNMU. */
function parseSource(field: string | undefined, name: string, version: string): { name: string; version: string } {
  if (!field) return { name, version };
  const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(field.trim());
  return m ? { name: m[1], version: m[2] ?? version } : { name, version };
}

function debPurl(name: string, version: string, arch: string | null, upstream: string | null, os: OsInfo | null): string {
  const vendor = os?.id === 'ubuntu' ? 'ubuntu' : 'debian';
  const distro = os?.versionId ? `${os.id}-${os.versionId}` : (os?.codename ?? null);
  return purl('deb', vendor, name, version, { arch, distro, upstream });
}
