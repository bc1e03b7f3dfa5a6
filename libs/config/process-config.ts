import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { parseDuration } from '#libs/domain/index.js';
import { zodIssues } from './zod-issues.js';

export interface ProcessConfig {
  port: number;
  host: string;
  /** The worker-only process serves /healthz, /readyz and /metrics on this port; null: no HTTP at all. */
  workerHealthPort: number | null;
  /** null: embedded PGlite under dataDir. */
  databaseUrl: string | null;
  /** null: 127.0.0.1:6379, started from a local redis-server binary if nothing answers. */
  redisUrl: string | null;
  redisPrefix: string;
  configPath: string;
  bootstrapToken: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `auto`: readable colour lines when stdout is a terminal, JSON lines otherwise. */
  logFormat: 'auto' | 'json' | 'pretty';
  dataDir: string;
  reconcileIntervalMs: number;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
// An empty variable counts as unset.
const optional = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v), inner);

const schema = z.object({
  PORT: optional(z.coerce.number().int().min(0).max(65535).default(8080)),
  HOST: optional(z.string().default('0.0.0.0')),
  WORKER_HEALTH_PORT: optional(z.coerce.number().int().min(0).max(65535).optional()),
  DATABASE_URL: optional(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  REDIS_URL: optional(
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
  ),
  REDIS_PREFIX: optional(
    z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only')
      .default('promoter'),
  ),
  PROMOTER_CONFIG: optional(z.string().default('./promoter.yaml')),
  PROMOTER_BOOTSTRAP_TOKEN: optional(z.string().min(16, 'must be at least 16 characters long').optional()),
  PROMOTER_DATA_DIR: optional(z.string().default('./data')),
  PROMOTER_RECONCILE_INTERVAL: optional(z.string().default('30s')),
  LOG_LEVEL: optional(z.enum(LEVELS).default('info')),
  LOG_FORMAT: optional(z.enum(['auto', 'json', 'pretty']).default('auto')),
});

export function loadProcessConfig(env: Record<string, string | undefined>): ProcessConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigError('environment', zodIssues(parsed.error));
  const e = parsed.data;
  let reconcileIntervalMs: number;
  try {
    reconcileIntervalMs = parseDurationStrict(e.PROMOTER_RECONCILE_INTERVAL);
  } catch (err) {
    throw new ConfigError('environment', [{ path: 'PROMOTER_RECONCILE_INTERVAL', message: (err as Error).message }]);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    workerHealthPort: e.WORKER_HEALTH_PORT ?? null,
    databaseUrl: e.DATABASE_URL ?? null,
    redisUrl: e.REDIS_URL ?? null,
    redisPrefix: e.REDIS_PREFIX,
    configPath: e.PROMOTER_CONFIG,
    bootstrapToken: e.PROMOTER_BOOTSTRAP_TOKEN ?? null,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    dataDir: e.PROMOTER_DATA_DIR,
    reconcileIntervalMs,
  };
}

function parseDurationStrict(text: string): number {
  const ms = parseDuration(text);
  if (ms < 1000) throw new Error('must be at least 1s');
  return ms;
}
