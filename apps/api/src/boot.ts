import { ConfigError, loadConfig, type AppConfig } from '../../../libs/config/index.js';
import { resolveRedis, type RedisTarget } from '../../../libs/queue/index.js';

export interface Boot {
  config: AppConfig;
  redis: RedisTarget;
}

/** Validates the configuration and finds Redis; a problem stops the process with a message. */
export async function boot(env: Record<string, string | undefined>): Promise<Boot> {
  try {
    const config = loadConfig(env);
    const redis = await resolveRedis(config.process.redisUrl, config.process.dataDir);
    return { config, redis };
  } catch (err) {
    const message = err instanceof ConfigError ? `configuration error in ${err.message}` : (err as Error).message;
    process.stderr.write(`image-promoter: ${message}\n`);
    process.exit(1);
  }
}
