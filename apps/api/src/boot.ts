import type { INestApplicationContext } from '@nestjs/common';
import { ConfigError, loadConfig, type AppConfig } from '../../../libs/config/index.js';
import { resolveRedis, type RedisTarget } from '../../../libs/queue/index.js';
import { loadConfiguredSigner } from '../../../libs/workflow/index.js';
import { loadAttestationKeys } from '../../worker/src/gates/scan-trust.js';
import { loadSignaturePolicies } from '../../worker/src/gates/signature-policies.js';

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
    const redis = await resolveRedis(config.process.redisUrl, config.process.dataDir);
    return { config, redis };
  } catch (err) {
    const message = err instanceof ConfigError ? `configuration error in ${err.message}` : (err as Error).message;
    process.stderr.write(`image-promoter: ${message}\n`);
    process.exit(1);
  }
}

const STOP_TIMEOUT_MS = 15_000;

/** SIGTERM/SIGINT: finish in-flight work, close connections, exit 0 (what orchestrators expect). */
export function stopGracefully(app: INestApplicationContext, redis: RedisTarget): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
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
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
