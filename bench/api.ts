// Benchmark of the real service: builds nothing itself (run through `npm run bench`, which builds first),
// starts dist/apps/api/src/all-in-one.js against a fresh PostgreSQL database and a unique Redis prefix,
// then measures with autocannon:
//   1. POST /api/v1/promotions    (ci token, a distinct digest and Idempotency-Key per request; expects 202)
//   2. GET  /api/v1/promotions/:id (ids created by 1, in rotation; expects 200)
// Prints a table and, as the last line of stdout, the same figures as JSON. Exits non-zero on any failure:
// a response other than the expected status, a socket error or timeout, or the server not becoming ready.
//
// Environment: BENCH_DURATION (seconds per measured run, default 10), BENCH_CONNECTIONS (default 20),
// BENCH_WARMUP (seconds of warm-up before each measured run, default 2; 0 skips it).
import autocannon from 'autocannon';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/process.js';
import { adminQuery, BenchServer, dropBenchData, runBench, intFromEnv, PG_BASE_URL, REDIS_URL, withTimeout } from './server.js';

const READY_TIMEOUT_MS = 60_000;
const HTTP_TIMEOUT_MS = 10_000;
/** Ids kept for the GET run; more only costs memory. */
const MAX_IDS = 100_000;
/** Bodies of unexpected answers kept to show what went wrong. */
const MAX_SAMPLES = 5;

const TARGETS = {
  post: { rps: 1_000, p99Ms: 50 },
  get: { rps: 5_000, p99Ms: 50 },
} as const;

const DURATION_S = intFromEnv('BENCH_DURATION', 10, 1);
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 20, 1);
const WARMUP_S = intFromEnv('BENCH_WARMUP', 2, 0);

const STAMP = Date.now();
const RUN_ID = `${STAMP}-${randomBytes(4).toString('hex')}`;
const DB_NAME = `promoter_bench_${STAMP}`;
const REDIS_PREFIX = `bench-${STAMP}`;
const BOOTSTRAP_TOKEN = `bench-bootstrap-${randomBytes(16).toString('hex')}`;
const LOG_FILE = `/tmp/promoter-bench-${STAMP}.log`;

/** Everything the run has to give back, in the order it must be given back. */
const state: {
  server: BenchServer | null;
  dbCreated: boolean;
  tmpDir: string | null;
} = { server: null, dbCreated: false, tmpDir: null };

// Whatever happens, the server does not outlive the benchmark.
process.on('exit', () => {
  if (state.server?.alive()) state.server.child.kill('SIGKILL');
});

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const PIPELINE = `# Written by bench/api.ts. No gates, so requests never wait on the worker's gate processors.
registries:
  - name: local
    url: http://127.0.0.1:5000
    auth: { type: none }
environments:
  - name: dev
    repository: local/dev/{app}
  - name: staging
    from: dev
    repository: local/staging/{app}
    approvals: { required: 1, roles: [release-manager] }
`;

async function createCiToken(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BOOTSTRAP_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-ci', roles: ['ci'] }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /api/v1/tokens answered ${res.status}: ${text}`);
  const token = (JSON.parse(text) as { token?: unknown }).token;
  if (typeof token !== 'string' || token === '') throw new Error(`POST /api/v1/tokens answered without a token: ${text}`);
  return token;
}

interface Figures {
  scenario: string;
  expectedStatus: number;
  durationS: number;
  connections: number;
  rpsMean: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  totalRequests: number;
  non2xx: number;
  unexpectedStatus: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  samples: string[];
}

interface Scenario {
  name: string;
  expectedStatus: number;
  request: autocannon.Request;
  /** Where answers other than the expected one are kept, for the report. */
  samples: string[];
}

async function run(base: string, scenario: Scenario, durationS: number): Promise<Figures> {
  const instance = autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: durationS,
    timeout: 10,
    requests: [scenario.request],
  });
  const result = await withTimeout(instance, (durationS + 30) * 1000, `autocannon ${scenario.name}`, () => instance.stop());
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, Number(s.count)]));
  const unexpectedStatus = Object.entries(statusCodes)
    .filter(([code]) => Number(code) !== scenario.expectedStatus)
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    scenario: scenario.name,
    expectedStatus: scenario.expectedStatus,
    durationS: result.duration,
    connections: CONNECTIONS,
    rpsMean: round(result.requests.average),
    latencyP50Ms: round(result.latency.p50),
    latencyP99Ms: round(result.latency.p99),
    latencyMaxMs: round(result.latency.max),
    totalRequests: result.requests.total,
    non2xx: result.non2xx,
    unexpectedStatus,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    samples: [...scenario.samples],
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

function failures(f: Figures): string[] {
  const out: string[] = [];
  if (f.non2xx > 0) out.push(`${f.non2xx} non-2xx responses`);
  if (f.unexpectedStatus > f.non2xx) out.push(`${f.unexpectedStatus - f.non2xx} 2xx responses other than ${f.expectedStatus}`);
  if (f.errors > 0) out.push(`${f.errors} socket errors`);
  if (f.timeouts > 0) out.push(`${f.timeouts} timeouts`);
  if (f.totalRequests === 0) out.push('no completed requests');
  return out;
}

function table(rows: Figures[]): string {
  const head = ['scenario', 'req/s (mean)', 'p50 (ms)', 'p99 (ms)', 'total requests', 'non-2xx'];
  const body = rows.map((r) => [
    r.scenario,
    r.rpsMean.toFixed(1),
    r.latencyP50Ms.toFixed(2),
    r.latencyP99Ms.toFixed(2),
    String(r.totalRequests),
    String(r.non2xx),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), rule, ...body.map(line)].join('\n');
}

async function cleanup(): Promise<void> {
  await state.server?.stop().catch((err) => log(`stopping the server failed: ${(err as Error).message}`));
  state.server = null;
  const run = { dbName: DB_NAME, dbCreated: state.dbCreated, redisPrefix: REDIS_PREFIX };
  await dropBenchData(run, log);
  state.dbCreated = run.dbCreated;
  if (state.tmpDir) {
    await rm(state.tmpDir, { recursive: true, force: true }).catch(() => undefined);
    state.tmpDir = null;
  }
}

async function main(): Promise<number> {
  log(
    `run ${RUN_ID}: ${DURATION_S} s per run, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up; ${availableParallelism()} CPUs, Node ${process.version}`,
  );
  state.tmpDir = await mkdtemp(join(tmpdir(), 'promoter-bench-'));
  const configPath = join(state.tmpDir, 'pipeline.yaml');
  await writeFile(configPath, PIPELINE);

  await withTimeout(adminQuery(`CREATE DATABASE "${DB_NAME}"`), 30_000, 'create database');
  state.dbCreated = true;
  log(`created database ${DB_NAME}`);

  const server = await BenchServer.start({
    port: await freePort(),
    logFile: LOG_FILE,
    log,
    env: {
      DATABASE_URL: `${PG_BASE_URL}/${DB_NAME}`,
      REDIS_URL,
      REDIS_PREFIX,
      PROMOTER_CONFIG: configPath,
      PROMOTER_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
      PROMOTER_DATA_DIR: join(state.tmpDir, 'data'),
    },
  });
  state.server = server;
  const base = server.base;
  log(`server ready at ${base}`);
  const ciToken = await createCiToken(base);

  // 1. POST: every request its own digest and Idempotency-Key.
  let counter = 0;
  const ids: string[] = [];
  const postSamples: string[] = [];
  const post: Scenario = {
    name: 'POST /api/v1/promotions',
    expectedStatus: 202,
    samples: postSamples,
    request: {
      method: 'POST',
      path: '/api/v1/promotions',
      setupRequest: (req) => {
        const n = counter++;
        const digest = createHash('sha256').update(`${RUN_ID}:${n}`).digest('hex');
        return {
          ...req,
          method: 'POST',
          path: '/api/v1/promotions',
          headers: {
            authorization: `Bearer ${ciToken}`,
            'content-type': 'application/json',
            'idempotency-key': `bench-${RUN_ID}-${n}`,
          },
          body: JSON.stringify({ image: `127.0.0.1:5000/dev/app${n % 100}@sha256:${digest}`, target: 'staging', reason: 'bench' }),
        };
      },
      onResponse: (status, body) => {
        if (status === 202) {
          if (ids.length < MAX_IDS) ids.push((JSON.parse(body) as { id: string }).id);
        } else if (postSamples.length < MAX_SAMPLES) {
          postSamples.push(`${status} ${body.slice(0, 500)}`);
        }
      },
    },
  };

  // 2. GET: the ids created above, in rotation.
  let next = 0;
  const getSamples: string[] = [];
  const get: Scenario = {
    name: 'GET /api/v1/promotions/:id',
    expectedStatus: 200,
    samples: getSamples,
    request: {
      method: 'GET',
      setupRequest: (req) => {
        const id = ids[next++ % ids.length];
        return { ...req, method: 'GET', path: `/api/v1/promotions/${id}`, headers: { authorization: `Bearer ${ciToken}` } };
      },
      onResponse: (status, body) => {
        if (status !== 200 && getSamples.length < MAX_SAMPLES) getSamples.push(`${status} ${body.slice(0, 500)}`);
      },
    },
  };

  const results: Figures[] = [];
  const problems: string[] = [];
  const measure = async (scenario: Scenario) => {
    if (WARMUP_S > 0) {
      log(`warm-up ${scenario.name} (${WARMUP_S} s)`);
      const warm = await run(base, scenario, WARMUP_S);
      for (const p of failures(warm)) problems.push(`${scenario.name} warm-up: ${p}`);
      scenario.samples.length = 0;
    }
    log(`measuring ${scenario.name} (${DURATION_S} s)`);
    const figures = await run(base, scenario, DURATION_S);
    for (const p of failures(figures)) problems.push(`${scenario.name}: ${p}`);
    results.push(figures);
    if (!server.alive()) throw server.failure(`server died during ${scenario.name}`);
  };

  await measure(post);
  if (ids.length === 0) throw new Error(`no promotion was created, nothing to GET; problems: ${problems.join('; ') || 'none'}`);
  await measure(get);

  const [p, g] = results as [Figures, Figures];
  const targets = {
    post: { ...TARGETS.post, met: p.rpsMean >= TARGETS.post.rps && p.latencyP99Ms < TARGETS.post.p99Ms },
    get: { ...TARGETS.get, met: g.rpsMean >= TARGETS.get.rps && g.latencyP99Ms < TARGETS.get.p99Ms },
  };

  process.stdout.write(`\n${table(results)}\n\n`);
  process.stdout.write(
    `targets (p99 < 50 ms): POST >= ${TARGETS.post.rps} req/s ${targets.post.met ? 'met' : 'NOT met'}; ` +
      `GET >= ${TARGETS.get.rps} req/s ${targets.get.met ? 'met' : 'NOT met'}\n`,
  );
  for (const r of results) {
    if (r.samples.length > 0) process.stdout.write(`unexpected answers to ${r.scenario}:\n  ${r.samples.join('\n  ')}\n`);
  }
  const ok = problems.length === 0;
  if (!ok) {
    process.stdout.write(`\nINVALID RUN:\n  ${problems.join('\n  ')}\n--- tail of ${LOG_FILE} ---\n${server.logTail()}\n`);
  }
  process.stdout.write(
    JSON.stringify({
      ok,
      problems,
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      durationS: DURATION_S,
      connections: CONNECTIONS,
      warmupS: WARMUP_S,
      results,
      targets,
    }) + '\n',
  );
  return ok ? 0 : 1;
}

// Bounded in time as a whole: warm-ups, measured runs, boot and cleanup, with room to spare.
await runBench({ main, cleanup, budgetMs: (2 * (DURATION_S + WARMUP_S) + 60) * 1000 + READY_TIMEOUT_MS + 120_000, log });
