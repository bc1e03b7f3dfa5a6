// Benchmark of the promote step on a large image, against skopeo. Run through `npm run bench:copy`, which
// builds first. It starts two docker-registries (A and B), pushes one 1 GiB image (10 raw-tar layers of
// 102.4 MiB each, generated as a stream and uploaded through the raw distribution API) to A `dev/big`, puts a
// variant of it in A `dev/<app>` for every run (its blobs mounted from dev/big, a manifest of its own: a digest
// is promoted into an environment only once), starts the API (dist/apps/api/src/main.js) and the worker
// (dist/apps/worker/src/main.js) as two processes, as deployments run them, against a fresh PostgreSQL
// database and a unique Redis prefix, and measures:
//   1. same-registry promotion (blobs mounted): POST /api/v1/promotions -> its `promotion.promoted` audit event,
//      A dev/<app> -> A same/<app>; against skopeo copy A -> A (another repository), with a cold blob-info
//      cache (skopeo streams every blob through itself) and with a warm one (skopeo mounts);
//   2. cross-registry promotion: POST -> `promoted`, A dev/<app> -> B cross/<app>; against skopeo copy A -> B,
//      the two taking turns;
//   3. the worker's peak RSS during each cross-registry promotion (VmHWM, reset through clear_refs before each
//      run, and VmRSS sampled every 50 ms).
// Every run writes into a repository nothing was written to before, so no run finds blobs left there by an
// earlier one. Each scenario has one discarded warm-up run first. Prints a table and, as the last line of
// stdout, the figures as JSON. Exits non-zero when a run fails or copies other than it should.
//
// Environment: BENCH_COPY_RUNS (measured runs per scenario, default 3).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MT, pushLargeImage, sha256, type PushedImage } from '../test/helpers/images.js';
import { freePort } from '../test/helpers/process.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { adminQuery, BenchServer, dropBenchData, runBench, intFromEnv, PG_BASE_URL, REDIS_URL, withTimeout } from './server.js';

const SKOPEO = '/usr/bin/skopeo';
const SETPRIV = '/usr/bin/setpriv';
const NOBODY = 65534;

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const LAYERS = 10;
const LAYER_SIZE = Math.floor(GiB / LAYERS);

const HTTP_TIMEOUT_MS = 10_000;
/** One promotion or skopeo copy of 1 GiB; far above what it takes. */
const RUN_TIMEOUT_MS = 300_000;
const POLL_MS = 20;
const SLOW_POLL_MS = 250;
const RSS_SAMPLE_MS = 50;

const TARGETS = { sameRegistryS: 0.3, crossNoSlowerThanSkopeo: true, peakRssMb: 200 } as const;

const RUNS = intFromEnv('BENCH_COPY_RUNS', 3, 1);

const STAMP = Date.now();
const DB_NAME = `promoter_bench_copy_${STAMP}`;
const REDIS_PREFIX = `bench-copy-${STAMP}`;
const BOOTSTRAP_TOKEN = `bench-bootstrap-${randomBytes(16).toString('hex')}`;
const LOG_FILE = `/tmp/promoter-bench-copy-${STAMP}.log`;

/** Everything the run has to give back. */
const state: {
  server: BenchServer | null;
  worker: BenchServer | null;
  skopeo: ChildProcess | null;
  registries: TestRegistry[];
  dbCreated: boolean;
  tmpDirs: string[];
  keepLog: boolean;
} = { server: null, worker: null, skopeo: null, registries: [], dbCreated: false, tmpDirs: [], keepLog: false };

// Whatever happens, the service's processes and skopeo do not outlive the benchmark (the registries are stopped by cleanup).
process.on('exit', () => {
  for (const c of [state.server?.child, state.worker?.child, state.skopeo])
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const log = (message: string) => process.stderr.write(`[bench:copy] ${message}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------------------
// Registries and the image

/**
 * A variant of `image` in `repo`: every blob mounted from `from`, and a manifest that differs only by an
 * annotation, so it has a digest of its own (a digest is promoted into an environment once) while its
 * config and layers are the same blobs. Raw API.
 */
async function mountVariant(reg: TestRegistry, from: string, repo: string, image: PushedImage, variant: string): Promise<PushedImage> {
  for (const blob of [image.config, ...image.layers]) {
    const query = new URLSearchParams({ mount: blob.digest, from });
    const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?${query}`, { method: 'POST', headers: { 'content-length': '0' } });
    await res.body?.cancel();
    if (res.status !== 201) throw new Error(`mount ${blob.digest} ${from} -> ${repo}: ${res.status}`);
  }
  const manifest = JSON.parse(image.bytes.toString('utf8')) as Record<string, unknown>;
  const bytes = Buffer.from(JSON.stringify({ ...manifest, annotations: { 'org.example.bench.variant': variant } }));
  const digest = sha256(bytes);
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, {
    method: 'PUT',
    headers: { 'content-type': image.mediaType },
    body: bytes,
  });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}@${digest}: ${res.status}`);
  return { ...image, bytes, digest, size: bytes.length };
}

/** The manifest stored under `ref`, checked byte for byte against the source's. */
async function checkCopied(reg: TestRegistry, repo: string, ref: string, image: PushedImage): Promise<void> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: MT.ociManifest } });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || !bytes.equals(image.bytes)) {
    throw new Error(`${reg.host}/${repo}:${ref} does not hold the source manifest (${res.status}, ${bytes.length} bytes)`);
  }
}

async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { status: res.status, json };
}

async function createToken(base: string, name: string, roles: string[]): Promise<string> {
  const res = await api(base, BOOTSTRAP_TOKEN, 'POST', '/api/v1/tokens', { name, roles });
  if (res.status !== 201 || typeof res.json?.token !== 'string')
    throw new Error(`POST /api/v1/tokens answered ${res.status}: ${JSON.stringify(res.json)}`);
  return res.json.token;
}

interface PromotedData {
  blobsMounted: number;
  blobsCopied: number;
  blobsSkipped: number;
  bytesCopied: number;
}

const counters = (d: PromotedData) =>
  `mounted ${d.blobsMounted}, copied ${d.blobsCopied}, skipped ${d.blobsSkipped}, bytes ${d.bytesCopied}`;

interface Tokens {
  ci: string;
  auditor: string;
}

/**
 * POST, then poll until `promoted`; the seconds from just before the POST to the `promotion.promoted`
 * audit event's time (same machine, same clock), and what that event says. Polling is fast for the
 * first second (a mounted copy is done within it) and slow after, so that the poller's own requests
 * take next to no CPU from a long copy on this 2-core machine.
 */
async function promote(
  base: string,
  tokens: Tokens,
  image: string,
  target: string,
): Promise<{ seconds: number; id: string; data: PromotedData }> {
  const started = Date.now();
  const created = await api(base, tokens.ci, 'POST', '/api/v1/promotions', { image, target, reason: 'bench:copy' });
  if (created.status !== 202) throw new Error(`POST /api/v1/promotions answered ${created.status}: ${JSON.stringify(created.json)}`);
  const id: string = created.json.id;
  let status: string = created.json.status;
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (status !== 'promoted') {
    if (['failed', 'rejected', 'cancelled', 'expired'].includes(status)) {
      const events = await api(base, tokens.auditor, 'GET', `/api/v1/audit/events?subject=${encodeURIComponent(`promotion:${id}`)}`);
      throw new Error(
        `promotion ${id} of ${image} into ${target} ended ${status}: ${JSON.stringify(events.json?.items?.at(-1)?.data ?? null)}`,
      );
    }
    if (Date.now() > deadline) throw new Error(`promotion ${id} still ${status} after ${RUN_TIMEOUT_MS / 1000} s`);
    if (state.server && !state.server.alive()) throw state.server.failure(`API died during promotion ${id}`);
    if (state.worker && !state.worker.alive()) throw state.worker.failure(`worker died during promotion ${id}`);
    await sleep(Date.now() - started < 1000 ? POLL_MS : SLOW_POLL_MS);
    const res = await api(base, tokens.ci, 'GET', `/api/v1/promotions/${id}`);
    if (res.status !== 200) throw new Error(`GET /api/v1/promotions/${id} answered ${res.status}: ${JSON.stringify(res.json)}`);
    status = res.json.status;
  }
  const events = await api(base, tokens.auditor, 'GET', `/api/v1/audit/events?subject=${encodeURIComponent(`promotion:${id}`)}`);
  const event = (events.json?.items as { action: string; at: string; data: PromotedData }[] | undefined)?.find(
    (e) => e.action === 'promotion.promoted',
  );
  if (!event) throw new Error(`promotion ${id}: no promotion.promoted audit event (${events.status} ${JSON.stringify(events.json)})`);
  const seconds = (Date.parse(event.at) - started) / 1000;
  return { seconds, id, data: event.data };
}

// ---------------------------------------------------------------------------------------------------------
// Memory of a process

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Resets the process's VmHWM to its current RSS (Linux >= 4.0); false when the kernel refuses. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every 50 ms until stopped; the highest sample in bytes (0 when none could be read). */
function sampleRss(pid: number): { stop(): number } {
  let peak = statusField(pid, 'VmRSS') ?? 0;
  let timer: NodeJS.Timeout | undefined = setInterval(() => {
    const rss = statusField(pid, 'VmRSS');
    if (rss !== null && rss > peak) peak = rss;
  }, RSS_SAMPLE_MS);
  return {
    stop() {
      if (timer) {
        clearInterval(timer);
        timer = undefined;
        const rss = statusField(pid, 'VmRSS');
        if (rss !== null && rss > peak) peak = rss;
      }
      return peak;
    },
  };
}

const mb = (bytes: number) => round(bytes / MiB, 1);

// ---------------------------------------------------------------------------------------------------------
// skopeo

/**
 * skopeo remembers where it saw each blob (its blob-info cache) and mounts from there when it can. As root
 * that cache is the machine-wide /var/lib/containers/cache, so each copy runs as `nobody` with
 * XDG_DATA_HOME pointing at a cache directory the benchmark chooses: a fresh one for a cold copy.
 */
let skopeoRoot: string | null = null;
const asRoot = process.getuid?.() === 0;
const isolatedCache = !asRoot || existsSync(SETPRIV);

async function skopeoCacheDir(name: string): Promise<string> {
  if (!skopeoRoot) {
    skopeoRoot = await mkdtemp(join(tmpdir(), 'promoter-bench-skopeo-'));
    state.tmpDirs.push(skopeoRoot);
    if (asRoot) chownSync(skopeoRoot, NOBODY, NOBODY);
  }
  const dir = join(skopeoRoot, name);
  mkdirSync(dir);
  if (asRoot) chownSync(dir, NOBODY, NOBODY);
  return dir;
}

async function skopeoCopy(from: string, to: string, cacheDir: string): Promise<{ seconds: number; peakRss: number }> {
  const args = [
    'copy',
    '--quiet',
    '--preserve-digests',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    '--src-no-creds',
    '--dest-no-creds',
    `docker://${from}`,
    `docker://${to}`,
  ];
  const [command, argv] =
    asRoot && isolatedCache ? [SETPRIV, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', SKOPEO, ...args]] : [SKOPEO, args];
  const started = performance.now();
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cacheDir, XDG_DATA_HOME: cacheDir, TMPDIR: cacheDir },
  });
  state.skopeo = child;
  // setpriv execs skopeo: the pid is skopeo's once it runs.
  const rss = child.pid ? sampleRss(child.pid) : null;
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const code = await withTimeout(
    new Promise<number | null>((resolveExit, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolveExit(c));
    }),
    RUN_TIMEOUT_MS,
    `skopeo copy ${from} ${to}`,
    () => child.kill('SIGKILL'),
  ).finally(() => (state.skopeo = null));
  const seconds = (performance.now() - started) / 1000;
  const peakRss = rss?.stop() ?? 0;
  if (code !== 0) throw new Error(`skopeo copy ${from} ${to} exited ${code}: ${output.trim()}`);
  return { seconds, peakRss };
}

// ---------------------------------------------------------------------------------------------------------
// Figures

interface Row {
  scenario: string;
  runs: number[];
  medianS: number;
  minS: number;
  maxS: number;
  /** Peak RSS of the copying process over the measured runs, MB. */
  peakRssMb: number | null;
  note: string;
}

function summary(scenario: string, runs: number[], peakRss: number | null, note: string): Row {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    scenario,
    runs: runs.map((r) => round(r)),
    medianS: round(median),
    minS: round(sorted[0]!),
    maxS: round(sorted.at(-1)!),
    peakRssMb: peakRss === null ? null : mb(peakRss),
    note,
  };
}

function table(rows: Row[]): string {
  const head = ['scenario', 'median (s)', 'min (s)', 'max (s)', 'peak RSS (MB)', 'what happened'];
  const body = rows.map((r) => [
    r.scenario,
    r.medianS.toFixed(3),
    r.minS.toFixed(3),
    r.maxS.toFixed(3),
    r.peakRssMb === null ? '-' : r.peakRssMb.toFixed(1),
    r.note,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const left = (i: number) => i === 0 || i === head.length - 1;
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (left(i) ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), rule, ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------

async function cleanup(): Promise<void> {
  if (state.skopeo && state.skopeo.exitCode === null) state.skopeo.kill('SIGKILL');
  await state.server?.stop().catch((err) => log(`stopping the API failed: ${(err as Error).message}`));
  await state.worker?.stop().catch((err) => log(`stopping the worker failed: ${(err as Error).message}`));
  state.server = null;
  state.worker = null;
  for (const reg of state.registries.splice(0)) {
    await withTimeout(reg.stop(), 15_000, `stop registry ${reg.host}`).catch((err) => log((err as Error).message));
  }
  const run = { dbName: DB_NAME, dbCreated: state.dbCreated, redisPrefix: REDIS_PREFIX };
  await dropBenchData(run, log);
  state.dbCreated = run.dbCreated;
  for (const dir of state.tmpDirs.splice(0)) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  if (!state.keepLog) await rm(LOG_FILE, { force: true }).catch(() => undefined);
  else log(`server log kept: ${LOG_FILE}`);
}

async function main(): Promise<number> {
  log(`${RUNS} measured runs per scenario (plus one warm-up); ${availableParallelism()} CPUs, Node ${process.version}`);
  if (!isolatedCache) log(`running as root without ${SETPRIV}: skopeo uses the machine-wide blob-info cache`);
  const tmp = await mkdtemp(join(tmpdir(), 'promoter-bench-copy-'));
  state.tmpDirs.push(tmp);

  const a = await startRegistry();
  state.registries.push(a);
  const b = await startRegistry();
  state.registries.push(b);
  log(`registry A ${a.url}, registry B ${b.url}`);

  log(`pushing ${LAYERS} layers of ${mb(LAYER_SIZE)} MiB to A dev/big`);
  const pushStarted = performance.now();
  const image = await pushLargeImage(a, 'dev/big', { layers: LAYERS, layerSize: LAYER_SIZE });
  const imageBytes = image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
  log(`pushed ${image.digest} (${mb(imageBytes)} MiB) in ${round((performance.now() - pushStarted) / 1000, 1)} s`);

  // Every run gets a source repository of its own, dev/<app>, holding a variant of the image (same blobs,
  // mounted from dev/big; a manifest of its own), and copies it into a repository named after the app that
  // nothing was written to before.
  const apps = ['warm', ...Array.from({ length: RUNS }, (_, i) => `big${i + 1}`)];
  const variants = new Map<string, PushedImage>();
  for (const app of apps) variants.set(app, await mountVariant(a, 'dev/big', `dev/${app}`, image, app));
  const variant = (app: string) => variants.get(app)!;

  const configPath = join(tmp, 'pipeline.yaml');
  await writeFile(
    configPath,
    `# Written by bench/copy.ts.
registries:
  - name: a
    url: ${a.url}
  - name: b
    url: ${b.url}
environments:
  - name: dev
    repository: a/dev/{app}
  - name: same
    from: dev
    repository: a/same/{app}
  - name: cross
    from: dev
    repository: b/cross/{app}
`,
  );
  await withTimeout(adminQuery(`CREATE DATABASE "${DB_NAME}"`), 30_000, 'create database');
  state.dbCreated = true;
  log(`created database ${DB_NAME}`);
  // API and worker as separate processes, as a deployment runs them: the copy happens in the worker,
  // whose memory is what the target is about.
  const env = {
    DATABASE_URL: `${PG_BASE_URL}/${DB_NAME}`,
    REDIS_URL,
    REDIS_PREFIX,
    PROMOTER_CONFIG: configPath,
    PROMOTER_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
    PROMOTER_DATA_DIR: join(tmp, 'data'),
  };
  const server = await BenchServer.start({ script: 'api', port: await freePort(), logFile: LOG_FILE, log, env });
  state.server = server;
  const worker = await BenchServer.start({ script: 'worker', port: await freePort(), logFile: LOG_FILE, log, env });
  state.worker = worker;
  const base = server.base;
  const pid = worker.child.pid!;
  const tokens: Tokens = {
    ci: await createToken(base, 'bench-ci', ['ci']),
    auditor: await createToken(base, 'bench-auditor', ['auditor']),
  };
  log(`API ready at ${base}, worker (pid ${pid}) ready`);

  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };

  // 1. Same registry: the service mounts.
  const sameService: number[] = [];
  for (const app of apps) {
    const r = await promote(base, tokens, `${a.host}/dev/${app}@${variant(app).digest}`, 'same');
    expect(
      r.data.blobsMounted === LAYERS + 1 && r.data.blobsCopied === 0,
      `same/${app}: expected ${LAYERS + 1} blobs mounted, 0 copied; got ${JSON.stringify(r.data)}`,
    );
    await checkCopied(a, `same/${app}`, variant(app).digest, variant(app));
    log(`service same-registry ${app}: ${round(r.seconds)} s ${counters(r.data)}${app === 'warm' ? ' (warm-up, discarded)' : ''}`);
    if (app !== 'warm') sameService.push(r.seconds);
  }

  // skopeo A -> A, cold cache: a fresh blob-info cache per run, so skopeo streams every blob through itself.
  const sameSkopeoCold: number[] = [];
  let sameSkopeoColdRss = 0;
  for (const app of apps) {
    const r = await skopeoCopy(
      `${a.host}/dev/${app}@${variant(app).digest}`,
      `${a.host}/skopeo-same-cold/${app}`,
      await skopeoCacheDir(`cold-${app}`),
    );
    await checkCopied(a, `skopeo-same-cold/${app}`, 'latest', variant(app));
    log(`skopeo same-registry, cold cache ${app}: ${round(r.seconds)} s${app === 'warm' ? ' (warm-up, discarded)' : ''}`);
    if (app !== 'warm') {
      sameSkopeoCold.push(r.seconds);
      sameSkopeoColdRss = Math.max(sameSkopeoColdRss, r.peakRss);
    }
  }

  // skopeo A -> A, warm cache: the warm-up copy teaches skopeo where the blobs are; then it mounts.
  const warmCache = await skopeoCacheDir('warm');
  const sameSkopeoWarm: number[] = [];
  let sameSkopeoWarmRss = 0;
  for (const app of apps) {
    const r = await skopeoCopy(`${a.host}/dev/${app}@${variant(app).digest}`, `${a.host}/skopeo-same-warm/${app}`, warmCache);
    await checkCopied(a, `skopeo-same-warm/${app}`, 'latest', variant(app));
    log(`skopeo same-registry, warm cache ${app}: ${round(r.seconds)} s${app === 'warm' ? ' (warm-up, discarded)' : ''}`);
    if (app !== 'warm') {
      sameSkopeoWarm.push(r.seconds);
      sameSkopeoWarmRss = Math.max(sameSkopeoWarmRss, r.peakRss);
    }
  }

  // 2. Across registries, the service and skopeo taking turns (so both see the same state of the disks and
  // page cache): the service streams every blob, its memory watched; skopeo copies into a fresh repository
  // on B with a fresh cache each time, so it cannot mount from an earlier run's repository on B.
  const crossService: number[] = [];
  const crossRuns: { app: string; seconds: number; baselineRssMb: number; peakHwmMb: number | null; peakSampledMb: number }[] = [];
  const crossSkopeo: number[] = [];
  let crossSkopeoRss = 0;
  let hwmReset = true;
  const rssBeforeCross = statusField(pid, 'VmRSS') ?? 0;
  for (const app of apps) {
    const baseline = statusField(pid, 'VmRSS') ?? 0;
    const reset = resetPeak(pid);
    hwmReset &&= reset;
    const sampler = sampleRss(pid);
    const r = await promote(base, tokens, `${a.host}/dev/${app}@${variant(app).digest}`, 'cross').finally(() => sampler.stop());
    const sampled = sampler.stop();
    const hwm = reset ? statusField(pid, 'VmHWM') : null;
    expect(
      r.data.blobsCopied === LAYERS + 1 && r.data.blobsMounted === 0 && r.data.blobsSkipped === 0 && r.data.bytesCopied === imageBytes,
      `cross/${app}: expected ${LAYERS + 1} blobs and ${imageBytes} bytes copied; got ${JSON.stringify(r.data)}`,
    );
    await checkCopied(b, `cross/${app}`, variant(app).digest, variant(app));
    log(
      `service cross-registry ${app}: ${round(r.seconds)} s, RSS before ${mb(baseline)} MB, peak ${hwm === null ? '?' : mb(hwm)} MB (VmHWM), ` +
        `${mb(sampled)} MB (sampled) ${counters(r.data)}${app === 'warm' ? ' (warm-up, discarded)' : ''}`,
    );
    if (app !== 'warm') {
      crossService.push(r.seconds);
      crossRuns.push({
        app,
        seconds: round(r.seconds),
        baselineRssMb: mb(baseline),
        peakHwmMb: hwm === null ? null : mb(hwm),
        peakSampledMb: mb(sampled),
      });
    }

    const k = await skopeoCopy(
      `${a.host}/dev/${app}@${variant(app).digest}`,
      `${b.host}/skopeo-cross/${app}`,
      await skopeoCacheDir(`cross-${app}`),
    );
    await checkCopied(b, `skopeo-cross/${app}`, 'latest', variant(app));
    log(`skopeo cross-registry ${app}: ${round(k.seconds)} s${app === 'warm' ? ' (warm-up, discarded)' : ''}`);
    if (app !== 'warm') {
      crossSkopeo.push(k.seconds);
      crossSkopeoRss = Math.max(crossSkopeoRss, k.peakRss);
    }
  }

  const peakServerRss = Math.max(...crossRuns.map((c) => Math.max(c.peakHwmMb ?? 0, c.peakSampledMb)));
  const rows = [
    summary('service, same registry (POST -> promoted)', sameService, null, `${LAYERS + 1} blobs mounted`),
    summary('skopeo copy, same registry, cold cache', sameSkopeoCold, sameSkopeoColdRss, 'every blob streamed through skopeo'),
    summary('skopeo copy, same registry, warm cache', sameSkopeoWarm, sameSkopeoWarmRss, 'blobs mounted'),
    summary(
      'service, cross registry (POST -> promoted)',
      crossService,
      peakServerRss * MiB,
      `${LAYERS + 1} blobs streamed, ${mb(imageBytes)} MiB`,
    ),
    summary('skopeo copy, cross registry', crossSkopeo, crossSkopeoRss, `${LAYERS + 1} blobs streamed, ${mb(imageBytes)} MiB`),
  ];
  const [sameRow, , , crossRow, skopeoCrossRow] = rows as [Row, Row, Row, Row, Row];
  const targets = {
    sameRegistry: {
      targetS: TARGETS.sameRegistryS,
      medianS: sameRow.medianS,
      maxS: sameRow.maxS,
      met: sameRow.maxS < TARGETS.sameRegistryS,
    },
    crossRegistry: { skopeoMedianS: skopeoCrossRow.medianS, medianS: crossRow.medianS, met: crossRow.medianS <= skopeoCrossRow.medianS },
    peakRss: { targetMb: TARGETS.peakRssMb, peakMb: peakServerRss, met: peakServerRss < TARGETS.peakRssMb },
  };

  process.stdout.write(`\nimage: ${image.digest}, ${LAYERS} layers + config, ${mb(imageBytes)} MiB; ${RUNS} measured runs per row\n\n`);
  process.stdout.write(`${table(rows)}\n\n`);
  process.stdout.write(
    'worker RSS during each cross-registry promotion (MB): ' +
      `before the first (warm-up) one ${mb(rssBeforeCross)}; ` +
      crossRuns
        .map((c) => `${c.app}: before ${c.baselineRssMb}, peak ${c.peakHwmMb ?? '?'} (VmHWM) / ${c.peakSampledMb} (sampled)`)
        .join('; ') +
      '\n\n',
  );
  process.stdout.write(
    `targets: same-registry promotion < ${TARGETS.sameRegistryS} s (every run): ${targets.sameRegistry.met ? 'met' : 'NOT met'} (max ${sameRow.maxS} s); ` +
      `cross-registry no slower than skopeo (median): ${targets.crossRegistry.met ? 'met' : 'NOT met'} (${crossRow.medianS} s vs ${skopeoCrossRow.medianS} s); ` +
      `peak RSS < ${TARGETS.peakRssMb} MB: ${targets.peakRss.met ? 'met' : 'NOT met'} (${peakServerRss} MB)\n`,
  );
  const ok = problems.length === 0;
  if (!ok) process.stdout.write(`\nINVALID RUN:\n  ${problems.join('\n  ')}\n`);
  process.stdout.write(
    JSON.stringify({
      ok,
      problems,
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      image: { digest: image.digest, layers: LAYERS, bytes: imageBytes },
      runs: RUNS,
      skopeoCacheIsolated: isolatedCache,
      hwmReset,
      results: rows,
      workerRssBeforeCrossMb: mb(rssBeforeCross),
      crossRss: crossRuns,
      targets,
    }) + '\n',
  );
  return ok ? 0 : 1;
}

// Bounded in time as a whole: a copy of 1 GiB takes seconds here; an hour (plus more for more runs) is ample.
await runBench({ main, cleanup, budgetMs: (3_600 + 300 * RUNS) * 1000, log, onFailure: () => (state.keepLog = true) });
