// What both benchmarks share: the built service as a child process, the local PostgreSQL and Redis
// they run against, and bounded waiting.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER = join(ROOT, 'dist/apps/api/src/all-in-one.js');
/** The processes a benchmark can start: API and worker together, or either alone. */
export const SCRIPTS = {
  'all-in-one': SERVER,
  api: join(ROOT, 'dist/apps/api/src/main.js'),
  worker: join(ROOT, 'dist/apps/worker/src/main.js'),
} as const;
export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const PG_BASE_URL = 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const HOST = '127.0.0.1';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

export function withTimeout<T>(promise: PromiseLike<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve(promise),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new Error(`${what}: no result in ${Math.round(ms / 1000)} s`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Gives back what a benchmark run made in PostgreSQL and Redis: its database (when it was created)
 * and its Redis keys. Never throws: a failure is logged, and cleanup goes on.
 */
export async function dropBenchData(
  run: { dbName: string; dbCreated: boolean; redisPrefix: string },
  log: (message: string) => void,
): Promise<void> {
  if (run.dbCreated) {
    await withTimeout(adminQuery(`DROP DATABASE IF EXISTS "${run.dbName}" WITH (FORCE)`), 30_000, 'drop database')
      .then(() => {
        run.dbCreated = false;
        log(`dropped database ${run.dbName}`);
      })
      .catch((err) => log(`could not drop database ${run.dbName}: ${(err as Error).message}`));
  }
  await withTimeout(dropRedisKeys(run.redisPrefix), 30_000, 'redis cleanup').catch((err) =>
    log(`could not remove Redis keys ${run.redisPrefix}:*: ${(err as Error).message}`),
  );
}

export interface ServerOptions {
  /** Default all-in-one. A worker alone answers /readyz on `port` through WORKER_HEALTH_PORT. */
  script?: keyof typeof SCRIPTS;
  port: number;
  logFile: string;
  /** PROMOTER_* and database/Redis settings; added to this process's environment. */
  env: Record<string, string>;
  log: (message: string) => void;
}

/** dist/apps/api/src/all-in-one.js as a child process, its output in a log file. */
export class BenchServer {
  readonly base: string;
  readonly exited: Promise<void>;
  private readonly logFd: number;

  private constructor(
    readonly child: ChildProcess,
    private readonly options: ServerOptions,
    logFd: number,
  ) {
    this.base = `http://${HOST}:${options.port}`;
    this.logFd = logFd;
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        options.log(`server exited (${signal ?? `code ${code}`})`);
        resolveExit();
      });
      child.once('error', (err) => {
        options.log(`server could not be started: ${err.message}`);
        resolveExit();
      });
    });
  }

  /** Starts the server and waits until GET /readyz answers 200. */
  static async start(options: ServerOptions): Promise<BenchServer> {
    const logFd = openSync(options.logFile, 'a');
    const script = options.script ?? 'all-in-one';
    const port = String(options.port);
    const child = spawn(process.execPath, [SCRIPTS[script]], {
      cwd: ROOT,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        ...(script === 'worker' ? { WORKER_HEALTH_PORT: port } : { PORT: port }),
        HOST,
        LOG_LEVEL: 'warn',
        ...options.env,
      },
    });
    const server = new BenchServer(child, options, logFd);
    options.log(`${script} pid ${child.pid} on port ${options.port}, log ${options.logFile}`);
    await server.ready();
    return server;
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logTail(lines = 60): string {
    try {
      const text = readFileSync(this.options.logFile, 'utf8').trimEnd();
      return text === '' ? '(empty)' : text.split('\n').slice(-lines).join('\n');
    } catch (err) {
      return `(could not read ${this.options.logFile}: ${(err as Error).message})`;
    }
  }

  /** An error naming what happened, with the tail of the server log. */
  failure(what: string): Error {
    return new Error(`${what}\n--- tail of ${this.options.logFile} ---\n${this.logTail()}`);
  }

  /** SIGTERM, then SIGKILL if it has not stopped after 15 s. */
  async stop(): Promise<void> {
    if (this.alive()) {
      this.child.kill('SIGTERM');
      try {
        await withTimeout(this.exited, STOP_TIMEOUT_MS, 'server stop after SIGTERM');
      } catch {
        this.options.log(`server still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM: SIGKILL`);
        this.child.kill('SIGKILL');
        await withTimeout(this.exited, 5_000, 'server stop after SIGKILL').catch(() => undefined);
      }
    }
    closeSync(this.logFd);
  }

  private async ready(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (!this.alive()) throw this.failure('server exited before becoming ready');
      try {
        const res = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw this.failure(`server not ready in ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
  }
}

export interface BenchRun {
  main: () => Promise<number>;
  cleanup: () => Promise<void>;
  /** The whole run, boot and cleanup included, must end within this. */
  budgetMs: number;
  log: (message: string) => void;
  /** Called before cleanup when the run failed, timed out or was interrupted. */
  onFailure?: () => void;
}

/** Runs a benchmark bounded in time, cleaning up whatever happens (failure, budget, SIGINT/SIGTERM), then exits. */
export async function runBench(run: BenchRun): Promise<never> {
  const watchdog = setTimeout(() => {
    run.log(`benchmark exceeded its ${Math.round(run.budgetMs / 1000)} s budget: cleaning up`);
    run.onFailure?.();
    void withTimeout(run.cleanup(), 60_000, 'cleanup').finally(() => process.exit(1));
  }, run.budgetMs);
  watchdog.unref();

  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (interrupted) return;
      interrupted = true;
      run.log(`${signal}: cleaning up`);
      run.onFailure?.();
      void withTimeout(run.cleanup(), 60_000, 'cleanup').finally(() => process.exit(130));
    });
  }

  let exitCode = 1;
  try {
    exitCode = await run.main();
  } catch (err) {
    run.log(`FAILED: ${(err as Error).message}`);
  }
  if (exitCode !== 0) run.onFailure?.();
  await withTimeout(run.cleanup(), 120_000, 'cleanup').catch((err) => run.log((err as Error).message));
  clearTimeout(watchdog);
  process.exit(exitCode);
}
