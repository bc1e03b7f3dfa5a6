import type { OsInfo, Package } from '../packages.js';
import { purl } from '../purl.js';

/** Alpine packages from `lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch, `o:` origin (source) package. */
export function apkPackages(text: string, foundIn: string, os: OsInfo | null): Package[] {
  const out: Package[] = [];
  let fields = new Map<string, string>();
  const flush = (): void => {
    const name = fields.get('P');
    const version = fields.get('V');
    if (name && version) {
      const origin = fields.get('o') ?? name;
      const arch = fields.get('A') ?? null;
      out.push({
        type: 'apk',
        name,
        version,
        ecosystem: os?.ecosystem ?? 'Alpine',
        purl: purl('apk', 'alpine', name, version, {
          arch,
          distro: os?.versionId ? `alpine-${os.versionId}` : null,
          upstream: origin !== name ? origin : null,
        }),
        sourceName: origin,
        sourceVersion: version,
        arch,
        foundIn,
      });
    }
    fields = new Map();
  };
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      flush();
      continue;
    }
    if (line.length >= 2 && line[1] === ':' && !fields.has(line[0])) fields.set(line[0], line.slice(2));
  }
  flush();
  return out;
}
