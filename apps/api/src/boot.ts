import { createServer } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { ConfigError, loadConfig, type AppConfig } from '#libs/config/index.js';
import { embeddedDatabaseHolder, embeddedDatabaseInUse } from '#libs/db/index.js';
import { resolveRedis, type RedisTarget } from '#libs/queue/index.js';
import { loadConfiguredSigner } from '#libs/workflow/index.js';
import { loadAttestationKeys } from '../../worker/src/gates/scan-trust.js';
import { loadSignaturePolicies } from '../../worker/src/gates/signature-policies.js';
import { workInFlight } from '../../worker/src/worker.module.js';

export interface Boot {
  config: AppConfig;
  redis: RedisTarget;
}

/** Validates the configuration and finds Redis; a problem stops the process with a message. */
export async function boot(env: Record<string, string | undefined>, mode: 'all-in-one' | 'api' | 'worker'): Promise<Boot> {
  try {
    const config = loadConfig(env);
    if (mode !== 'api') {
      // Only processes that run the worker sign and verify, so only they get to hold the key: the
      // API never opens it. A signing key that cannot be opened stops start-up here, with the key
      // path in the message; so does a trust file of a signature gate (keys, Fulcio roots, Rekor keys)
      // or of a scan gate (attestationKeys).
      await loadConfiguredSigner(config);
      loadSignaturePolicies(config);
      loadAttestationKeys(config);
    }
    if (mode !== 'all-in-one' && config.process.databaseUrl === null) {
      // The embedded database belongs to one process; separate API and worker processes must share a server.
      throw new Error(`running the ${mode} on its own needs DATABASE_URL (a PostgreSQL server shared with the other processes)`);
    }
    // Checked before the seconds of start-up that would otherwise end in a stack trace.
    if (mode === 'all-in-one' && config.process.databaseUrl === null) {
      const holder = embeddedDatabaseHolder(config.process.dataDir);
      if (holder !== null) throw embeddedDatabaseInUse(config.process.dataDir, holder);
    }
    if (mode !== 'worker') await portFree(config.process.port, config.process.host, 'PORT');
    else if (config.process.workerHealthPort !== null)
      await portFree(config.process.workerHealthPort, config.process.host, 'WORKER_HEALTH_PORT');
    const redis = await resolveRedis(config.process.redisUrl, config.process.dataDir);
    return { config, redis };
  } catch (err) {
    const message = err instanceof ConfigError ? `configuration error in ${err.message}` : (err as Error).message;
    process.stderr.write(`image-promoter: ${message}\n`);
    process.exit(1);
  }
}

/**
 * The rest of start-up (modules, database, listening): a failure is one line on stderr and exit
 * status 1, not a stack trace.
 */
export async function startOrExit(redis: RedisTarget, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
    const message =
      e.code === 'EADDRINUSE'
        ? `port ${e.port} on ${e.address} is already in use (is another image-promoter running?); stop what holds it or choose another port`
        : e.message;
    process.stderr.write(`image-promoter: ${message}\n`);
    redis.stop?.();
    process.exit(1);
  }
}

async function portFree(port: number, host: string, variable: string): Promise<void> {
  if (port === 0) return;
  const problem = await new Promise<string | null>((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
  if (problem === 'EADDRINUSE') {
    throw new Error(
      `port ${port} on ${host} is already in use (is another image-promoter running?); stop what holds it, or set ${variable} to a free port`,
    );
  }
  if (problem === 'EACCES')
    throw new Error(`port ${port} on ${host} needs privileges this process lacks; set ${variable} to a port above 1023`);
  if (problem !== null) throw new Error(`cannot listen on ${host}:${port} (${problem}); check HOST and ${variable}`);
}

export const STOP_TIMEOUT_MS = 15_000;

/** What a stop says first: nothing to wait for, or which work it waits for and how long at most. */
export function stopMessage(signal: string, inFlight: readonly string[], timeoutMs = STOP_TIMEOUT_MS): string {
  if (inFlight.length === 0) return `stopping on ${signal}; no work in flight`;
  return (
    `stopping on ${signal}; waiting up to ${Math.round(timeoutMs / 1000)} s for ${inFlight.join(', ')} to finish. ` +
    'Press Ctrl-C again to stop now: the work is taken up again when a worker next runs'
  );
}

/** SIGTERM/SIGINT: finish in-flight work, close connections, exit 0 (what orchestrators expect). */
export function stopGracefully(app: INestApplicationContext, redis: RedisTarget): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl-C: the person does not want to wait. Unfinished jobs stay owed in Redis and
      // the database; BullMQ hands a stalled one to the next worker.
      process.stderr.write(`image-promoter: stopping now on a second ${signal}\n`);
      redis.stop?.();
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`image-promoter: ${stopMessage(signal, workInFlight(app))}\n`);
    // A connection that never closes (Redis gone, say) must not keep the process alive forever.
    setTimeout(() => {
      process.stderr.write(`image-promoter: did not stop within ${STOP_TIMEOUT_MS} ms of ${signal}; exiting\n`);
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    try {
      await app.close();
      redis.stop?.();
      process.exit(0);
    } catch (err) {
      process.stderr.write(`image-promoter: error while stopping on ${signal}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
