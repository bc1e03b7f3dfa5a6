import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { importOsv, lookupEntries, readOsvPath, vulnDbStatus, VulnDbImportError, type OsvDocument } from '#libs/scanning/index.js';
import { freshDatabase, type FreshDatabase } from '../helpers/database.js';
import { CRITICAL_V3, osvRecord } from '../helpers/scan-images.js';

const fixed = (v: string) => [{ introduced: '0' }, { fixed: v }];

/**
 * A zip whose one entry inflates to `mib` MiB of zeros from a few hundred KiB: one deflated MiB
 * (sync-flushed, so byte-aligned and self-contained) repeated, then an empty final block.
 */
function zipBomb(entryName: string, mib: number, extra: Record<string, Uint8Array> = {}): Buffer {
  const MiB = Buffer.alloc(1024 * 1024);
  const block = deflateRawSync(MiB, { finishFlush: constants.Z_SYNC_FLUSH });
  const data = Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]);
  let crc = 0;
  for (let i = 0; i < mib; i++) crc = crc32(MiB, crc);
  const name = Buffer.from(entryName);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(mib * 1024 * 1024, 22);
  local.writeUInt16LE(name.length, 26);
  // The bomb first, then ordinary entries (their own zip, central directory dropped: the reader streams).
  const rest = Buffer.from(zipSync(extra));
  const restEntries = rest.subarray(0, rest.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
  return Buffer.concat([local, name, data, restEntries]);
}

describe('vulnerability database import (PostgreSQL)', () => {
  let fresh: FreshDatabase;
  let dir: string;

  beforeAll(async () => {
    fresh = await freshDatabase();
    dir = mkdtempSync(join(tmpdir(), 'osv-'));
  });
  afterAll(async () => {
    await fresh?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, value: unknown): string => {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
    return path;
  };
  const ids = async (ecosystem: string, pkg: string): Promise<string[]> =>
    (await lookupEntries(fresh.db.dataSource, [{ ecosystem, package: pkg }])).entries.map((e) => e.id).sort();

  it('imports a directory of OSV files (one record, a list, an API answer), skips malformed and withdrawn records, and reports them', async () => {
    const root = join(dir, 'first');
    write(
      'first/DSA-1.json',
      osvRecord('DSA-1', 'Debian:12', 'openssl', fixed('3.0.11-1~deb12u2'), { severity: CRITICAL_V3, aliases: ['CVE-2023-1'] }),
    );
    write('first/list.json', [
      osvRecord('GHSA-1', 'npm', 'lodash', fixed('4.17.21')),
      osvRecord('PYSEC-1', 'PyPI', 'Requests', fixed('2.31.0')),
    ]);
    write('first/api.json', { vulns: [osvRecord('ALPINE-1', 'Alpine:v3.19', 'openssl', fixed('3.1.4-r5'))] });
    write('first/sub/withdrawn.json', osvRecord('DSA-OLD', 'Debian:12', 'bash', fixed('1'), { withdrawn: '2024-01-01T00:00:00Z' }));
    write('first/bad-json.json', '{"id": "BROKEN", ');
    write('first/bad-record.json', { id: 'BAD-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm' } }] });
    write('first/notes.txt', 'ignored: not .json');

    const report = await importOsv(fresh.db.dataSource, readOsvPath(root), { source: root });

    expect(report).toMatchObject({ records: 4, entries: 4, skipped: 2, withdrawn: 1, source: root });
    expect(report.problems).toEqual([
      expect.objectContaining({ document: join(root, 'bad-json.json'), id: null, reason: expect.stringContaining('not JSON') }),
      expect.objectContaining({
        document: join(root, 'bad-record.json'),
        id: 'BAD-1',
        reason: 'affected[0].package needs an ecosystem and a name',
      }),
    ]);
    expect(await ids('Debian:12', 'openssl')).toEqual(['DSA-1']);
    expect(await ids('PyPI', 'requests')).toEqual(['PYSEC-1']);
    expect(await ids('Debian:12', 'bash')).toEqual([]);
    const [entry] = (await lookupEntries(fresh.db.dataSource, [{ ecosystem: 'Debian:12', package: 'openssl' }])).entries;
    expect(entry).toMatchObject({
      severity: 'critical',
      cvssScore: 9.8,
      aliases: ['CVE-2023-1'],
      affected: [{ ranges: [{ type: 'ECOSYSTEM', events: fixed('3.0.11-1~deb12u2') }], versions: [] }],
    });
    const status = await vulnDbStatus(fresh.db.dataSource);
    expect(status).toMatchObject({ source: root, records: 4, entries: 4, skipped: 2, withdrawn: 1 });
    expect(status!.importedAt.getTime()).toBe(report.importedAt.getTime());
  });

  it('a zip archive (OSV all.zip) replaces the previous import entirely; the later `modified` of a duplicated record wins', async () => {
    const zip = zipSync({
      'DSA-2.json': strToU8(JSON.stringify(osvRecord('DSA-2', 'Debian:12', 'openssl', fixed('3.0.13-1~deb12u1')))),
      'DSA-3.json': strToU8(
        JSON.stringify(osvRecord('DSA-3', 'Debian:12', 'curl', fixed('7.88.1-10+deb12u5'), { modified: '2024-01-01T00:00:00Z' })),
      ),
      'again/DSA-3.json': strToU8(
        JSON.stringify(osvRecord('DSA-3', 'Debian:12', 'curl', fixed('7.88.1-10+deb12u6'), { modified: '2024-06-01T00:00:00Z' })),
      ),
      'README.txt': strToU8('not a record'),
    });
    const path = write('all.zip', Buffer.from(zip));
    const before = await vulnDbStatus(fresh.db.dataSource);

    const report = await importOsv(fresh.db.dataSource, readOsvPath(path), { source: path });

    expect(report).toMatchObject({ records: 3, entries: 2, skipped: 0 });
    expect(await ids('Debian:12', 'openssl')).toEqual(['DSA-2']);
    expect(await ids('npm', 'lodash')).toEqual([]);
    const [curl] = (await lookupEntries(fresh.db.dataSource, [{ ecosystem: 'Debian:12', package: 'curl' }])).entries;
    expect(curl.affected[0].ranges[0].events).toEqual(fixed('7.88.1-10+deb12u6'));
    expect((await vulnDbStatus(fresh.db.dataSource))!.importedAt.getTime()).toBeGreaterThanOrEqual(before!.importedAt.getTime());
  });

  it('--strict, an import without one valid record, and a truncated zip change nothing', async () => {
    const before = await vulnDbStatus(fresh.db.dataSource);
    const mixed = write('strict/mixed.json', [osvRecord('NEW-1', 'npm', 'x', fixed('1.0.0')), { id: 'BAD', modified: 'never' }]);
    await expect(importOsv(fresh.db.dataSource, readOsvPath(mixed), { source: mixed, strict: true })).rejects.toThrow(
      /malformed record BAD .*modified is missing or not a timestamp/,
    );

    const empty = write('empty/none.json', [{ id: 'BAD-2' }]);
    await expect(importOsv(fresh.db.dataSource, readOsvPath(empty), { source: empty })).rejects.toThrow(
      /no valid OSV records .*1 malformed.*left as it was/,
    );

    const zip = Buffer.from(zipSync({ 'A.json': strToU8(JSON.stringify(osvRecord('Z-1', 'npm', 'z', fixed('1.0.0')))) }, { level: 0 }));
    const truncated = write('broken.zip', zip.subarray(0, 60));
    await expect(importOsv(fresh.db.dataSource, readOsvPath(truncated), { source: truncated })).rejects.toBeInstanceOf(VulnDbImportError);

    await expect(importOsv(fresh.db.dataSource, readOsvPath(join(dir, 'missing')), { source: 'missing' })).rejects.toThrow(
      /no such file or directory/,
    );

    expect(await vulnDbStatus(fresh.db.dataSource)).toEqual(before);
    expect(await ids('Debian:12', 'openssl')).toEqual(['DSA-2']);
    expect(await ids('npm', 'x')).toEqual([]);
  });

  it('readers see the old database until the import commits, then the new one whole', async () => {
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    let reachedPause!: () => void;
    const atPause = new Promise<void>((resolve) => (reachedPause = resolve));
    async function* documents(): AsyncGenerator<OsvDocument> {
      for (let i = 0; i < 3000; i++) {
        yield { name: `gen-${i}.json`, bytes: Buffer.from(JSON.stringify(osvRecord(`GEN-${i}`, 'Debian:12', 'openssl', fixed('9.9')))) };
        if (i === 2500) {
          reachedPause();
          await paused;
        }
      }
    }
    const before = await vulnDbStatus(fresh.db.dataSource);
    const importing = importOsv(fresh.db.dataSource, documents(), { source: 'generated', batchSize: 500 });
    await atPause;
    onTestFinished(() => release());

    // 2,500 records are written in the open transaction; another connection still sees the old import.
    const during = await lookupEntries(fresh.db.dataSource, [{ ecosystem: 'Debian:12', package: 'openssl' }]);
    expect(during.entries.map((e) => e.id)).toEqual(['DSA-2']);
    expect(during.importedAt).toEqual(before!.importedAt);

    release();
    const report = await importing;
    const after = await lookupEntries(fresh.db.dataSource, [{ ecosystem: 'Debian:12', package: 'openssl' }]);
    expect(after.entries).toHaveLength(3000);
    expect(after.importedAt).toEqual(report.importedAt);
  });

  it('skips and counts what PostgreSQL or memory cannot take (NUL, unpaired surrogate, bad JSON, a record over the limit, a zip bomb) and imports the rest', async () => {
    const good = (id: string) => strToU8(JSON.stringify(osvRecord(id, 'npm', 'hostile-pkg', fixed('1.0.0'))));
    const nul = JSON.stringify(osvRecord('NUL-1', 'npm', 'nul-pkg', fixed('1.0.0'))).replace(
      '"summary":"',
      '"summary":"before\\u0000after',
    );
    const surrogate = JSON.stringify(osvRecord('SUR-1', 'npm', 'sur-pkg', fixed('1.0.0'))).replace(
      '"id":"SUR-1"',
      '"id":"SUR-1","details":"x\\ud800y"',
    );
    expect(JSON.parse(nul).summary).toContain('\u0000');
    const root = join(dir, 'hostile');
    write('hostile/a-good.json', osvRecord('GOOD-1', 'npm', 'hostile-pkg', fixed('1.0.0')));
    write('hostile/b-nul.json', nul);
    write('hostile/c-surrogate.json', surrogate);
    write('hostile/d-broken.json', '{"id": ');
    write('hostile/e-large.json', JSON.stringify({ ...osvRecord('BIG-1', 'npm', 'big', fixed('1.0.0')), details: 'x'.repeat(300 * 1024) }));
    // 512 MiB of zeros in one entry, from well under 1 MiB of archive; a good record after it.
    write('hostile/f-bomb.zip', zipBomb('BOMB.json', 512, { 'GOOD-2.json': good('GOOD-2') }));

    let peak = 0;
    const base = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 20);
    let report;
    try {
      report = await importOsv(fresh.db.dataSource, readOsvPath(root, { maxRecordBytes: 256 * 1024 }), { source: root });
    } finally {
      clearInterval(sampler);
    }

    expect(report).toMatchObject({ records: 2, skipped: 5, skippedBy: { json: 1, nul: 2, too_large: 2, schema: 0 } });
    const byDocument = Object.fromEntries(report.problems.map((p) => [p.document.slice(root.length + 1), p]));
    expect(byDocument['b-nul.json']).toMatchObject({ id: 'NUL-1', kind: 'nul', reason: 'summary contains a NUL character' });
    expect(byDocument['c-surrogate.json']).toMatchObject({
      id: 'SUR-1',
      kind: 'nul',
      reason: 'details contains an unpaired UTF-16 surrogate',
    });
    expect(byDocument['d-broken.json']).toMatchObject({ kind: 'json' });
    expect(byDocument['e-large.json']).toMatchObject({
      kind: 'too_large',
      reason: expect.stringMatching(/^\d+ bytes, more than the 262144-byte record limit$/),
    });
    expect(byDocument['f-bomb.zip:BOMB.json']).toMatchObject({ kind: 'too_large', reason: 'more than the 262144-byte record limit' });
    expect(await ids('npm', 'hostile-pkg')).toEqual(['GOOD-1', 'GOOD-2']);
    expect(await vulnDbStatus(fresh.db.dataSource)).toMatchObject({ skipped: 5, skippedBy: { json: 1, nul: 2, too_large: 2, schema: 0 } });
    // Measured, with a generous bound: the bomb's 512 MiB never sat in memory (reading entries whole took 1 GiB+).
    console.log(`vulndb import of a 512 MiB zip bomb: peak RSS growth ${Math.round(peak / 1024 / 1024)} MiB`);
    expect(peak).toBeLessThan(300 * 1024 * 1024);
  });

  it('promoctl vulndb import runs against DATABASE_URL and prints what it did', async () => {
    const path = write('cli/records.json', [osvRecord('CLI-1', 'npm', 'left-pad', fixed('1.3.0')), { id: 'CLI-BAD' }]);
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), env: { DATABASE_URL: fresh.url } };

    expect(await runCli(['vulndb', 'import', path], io)).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`^imported 1 records \\(1 package entries\\) from ${path} at \\d{4}-\\d\\d-\\d\\dT`));
    expect(out.join('')).toContain('skipped 1 malformed records (1 not OSV):\n  - CLI-BAD in');
    expect(await ids('npm', 'left-pad')).toEqual(['CLI-1']);

    out.length = 0;
    expect(await runCli(['vulndb', 'import', path, '--strict'], io)).toBe(2);
    expect(err.join('')).toContain('error: import failed: malformed record CLI-BAD');

    expect(await runCli(['--json', 'vulndb', 'import', path], io)).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ records: 1, skipped: 1, problems: [{ id: 'CLI-BAD' }] });

    // A record over --max-record-size is skipped unread and counted as such.
    write('cli/big.json', { ...osvRecord('CLI-BIG', 'npm', 'big', fixed('1.0.0')), details: 'x'.repeat(4096) });
    out.length = 0;
    expect(await runCli(['vulndb', 'import', join(dir, 'cli'), '--max-record-size', '2KiB'], io)).toBe(0);
    expect(out.join('')).toContain('skipped 2 malformed records (1 too large, 1 not OSV):');
    expect(out.join('')).toMatch(/\(no id\) in .*big\.json: \d+ bytes, more than the 2048-byte record limit/);
    err.length = 0;
    expect(await runCli(['vulndb', 'import', path, '--max-record-size', 'lots'], io)).toBe(2);
    expect(err.join('')).toContain("error: --max-record-size: 'lots' is not a size");
  });
});
