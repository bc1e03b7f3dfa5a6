// Benchmark of the built-in scanner. Run through `npm run bench:scan`, which builds first. It starts one
// docker-registry, creates a fresh PostgreSQL database (real migrations), generates 50,000 OSV records
// (60% Debian:12 over 5,000 source packages, 20% npm, 10% PyPI, 10% Alpine:v3.19; CVSS vectors on half)
// and imports them through the same path as `promoctl vulndb import` (timed), then pushes a Debian 12
// image of 300 installed packages (dpkg status, a doc file per package, 3 gzip layers) and times
// ScannerService.scan on it: registry reads, layer streaming, detection, SBOM and matching together.
// Two discarded warm-up scans first. Prints a table and, as the last line of stdout, the figures as JSON.
// Exits non-zero when a scan fails or finds other than it should.
//
// Environment: BENCH_SCAN_RUNS (measured scans, default 20), BENCH_SCAN_RECORDS (default 50000).
import { performance } from 'node:perf_hooks';
import { openDatabase, type Database } from '#libs/db/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { importOsv, ScannerService, type OsvDocument } from '#libs/scanning/index.js';
import { layer, pushLayers, type TarEntry } from '../test/helpers/layers.js';
import { registryConfig, startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, type DebPackage } from '../test/helpers/scan-images.js';
import { adminQuery, intFromEnv, PG_BASE_URL, runBench } from './server.js';

const RUNS = intFromEnv('BENCH_SCAN_RUNS', 20, 1);
const RECORDS = intFromEnv('BENCH_SCAN_RECORDS', 50_000, 1);
const WARMUP = 2;
const PACKAGES = 300;
const TARGET_MS = 2000;

const STAMP = Date.now();
const DB_NAME = `promoter_bench_scan_${STAMP}`;
const state: { registry: TestRegistry | null; db: Database | null; dbCreated: boolean } = { registry: null, db: null, dbCreated: false };

const log = (message: string) => process.stderr.write(`[bench:scan] ${message}\n`);
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

const CVSS = [
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N',
  'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N',
];

/** The image's packages: binaries lib<i> built from source src<i>, every third one from a shared source. */
function imagePackages(): DebPackage[] {
  return Array.from({ length: PACKAGES }, (_, i) => ({
    name: `lib${i}`,
    version: `1.${i % 10}.0-1+deb12u1`,
    source: i % 3 === 0 ? `src${i}` : `src${i} (1.${i % 10}.0-1+deb12u1)`,
  }));
}

function record(n: number): unknown {
  const bucket = n % 10;
  const id = `BENCH-${n}`;
  const severity = n % 2 === 0 ? [{ type: 'CVSS_V3', score: CVSS[n % 3] }] : undefined;
  let ecosystem: string;
  let name: string;
  let fixed: string;
  if (bucket < 6) {
    ecosystem = 'Debian:12';
    name = `src${n % 5000}`;
    fixed = `1.${n % 7}.0-1+deb12u${n % 4}`;
  } else if (bucket < 8) {
    ecosystem = 'npm';
    name = `pkg-${n % 8000}`;
    fixed = `${n % 5}.${n % 11}.0`;
  } else if (bucket < 9) {
    ecosystem = 'PyPI';
    name = `py-${n % 4000}`;
    fixed = `${n % 4}.${n % 9}.1`;
  } else {
    ecosystem = 'Alpine:v3.19';
    name = `apk${n % 3000}`;
    fixed = `1.${n % 6}.0-r${n % 3}`;
  }
  return {
    schema_version: '1.6.0',
    id,
    modified: '2024-03-01T00:00:00Z',
    aliases: [`CVE-2024-${n}`],
    summary: `generated record ${n}`,
    ...(severity ? { severity } : { database_specific: { severity: 'MODERATE' } }),
    affected: [
      {
        package: { ecosystem, name },
        ranges: [{ type: ecosystem === 'npm' ? 'SEMVER' : 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
      },
    ],
  };
}

async function* generated(): AsyncGenerator<OsvDocument> {
  // As an OSV all.zip holds them: one record per document.
  for (let n = 0; n < RECORDS; n++) yield { name: `BENCH-${n}.json`, bytes: Buffer.from(JSON.stringify(record(n))) };
}

async function main(): Promise<number> {
  state.registry = await startRegistry();
  const reg = state.registry;
  await adminQuery(`CREATE DATABASE ${DB_NAME}`);
  state.dbCreated = true;
  state.db = await openDatabase({ databaseUrl: `${PG_BASE_URL}/${DB_NAME}`, dataDir: '/nonexistent', poolSize: 4 });
  const dataSource = state.db.dataSource;

  const importStart = performance.now();
  const report = await importOsv(dataSource, generated(), { source: 'generated' });
  const importMs = performance.now() - importStart;
  log(`imported ${report.records} records (${report.entries} entries) in ${round(importMs)} ms`);
  if (report.records !== RECORDS || report.skipped !== 0)
    throw new Error(`import took ${report.records} records, skipped ${report.skipped}`);

  const packages = imagePackages();
  const docs: TarEntry[] = packages.map((p) => ({
    name: `usr/share/doc/${p.name}/copyright`,
    content: `Copyright for ${p.name}\n`.repeat(40),
  }));
  const layers = [
    await layer([
      { name: 'usr/lib/os-release', content: DEBIAN_12_OS_RELEASE },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      ...docs.slice(0, 150),
    ]),
    await layer(docs.slice(150)),
    await layer([{ name: 'var/lib/dpkg/status', content: dpkgStatus(packages) }]),
  ];
  const pushed = await pushLayers(reg, 'bench/debian', layers);
  const scanner = new ScannerService({ registry: new RegistryClient([registryConfig('local', reg)], { env: {} }), db: dataSource });
  const image = { registry: reg.host, repository: 'bench/debian', digest: pushed.digest };

  const times: number[] = [];
  let findings = -1;
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = performance.now();
    const result = await scanner.scan(image);
    const ms = performance.now() - start;
    if (result.packages.length !== PACKAGES) throw new Error(`scan found ${result.packages.length} packages, expected ${PACKAGES}`);
    if (findings >= 0 && result.findings.length !== findings) throw new Error('scans of the same image disagree');
    findings = result.findings.length;
    if (i >= WARMUP) times.push(ms);
  }
  if (findings <= 0) throw new Error('no findings: the generated records should affect the image');

  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const p95 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.95) - 1)];
  const max = times[times.length - 1];
  const ok = p95 < TARGET_MS;
  process.stdout.write(
    [
      `scan of a ${PACKAGES}-package Debian image against ${RECORDS} OSV records (${report.entries} entries), ${RUNS} runs`,
      `  import   ${round(importMs)} ms`,
      `  scan     median ${round(median)} ms, p95 ${round(p95)} ms, max ${round(max)} ms  (target p95 < ${TARGET_MS} ms: ${ok ? 'met' : 'MISSED'})`,
      `  findings ${findings}`,
      '',
    ].join('\n'),
  );
  process.stdout.write(
    JSON.stringify({
      records: RECORDS,
      entries: report.entries,
      packages: PACKAGES,
      runs: RUNS,
      importMs: round(importMs),
      scanMs: { median: round(median), p95: round(p95), max: round(max) },
      findings,
      targetMs: TARGET_MS,
      met: ok,
    }) + '\n',
  );
  return ok ? 0 : 1;
}

async function cleanup(): Promise<void> {
  await state.db?.close().catch(() => undefined);
  if (state.dbCreated)
    await adminQuery(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`).catch((err) => log(`drop database: ${(err as Error).message}`));
  await state.registry?.stop();
}

await runBench({ main, cleanup, budgetMs: (180 + 5 * RUNS) * 1000, log });
