import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';

export interface RedisTarget {
  url: string;
  /** Set when this process started its own redis-server. */
  stop?: () => void;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 6379;

/**
 * With REDIS_URL set, that is the Redis. Without it: 127.0.0.1:6379 if something answers there,
 * else a redis-server from PATH started for this process; else an error that says what to do.
 */
export async function resolveRedis(
  redisUrl: string | null,
  dataDir: string,
  local: { host: string; port: number; env?: NodeJS.ProcessEnv } = { host: DEFAULT_HOST, port: DEFAULT_PORT },
): Promise<RedisTarget> {
  if (redisUrl) return { url: redisUrl };
  const url = `redis://${local.host}:${local.port}`;
  if (await answers(local.host, local.port)) return { url };
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(
    'redis-server',
    ['--bind', local.host, '--port', String(local.port), '--save', '', '--appendonly', 'no', '--dir', dataDir],
    { stdio: 'ignore', env: local.env ?? process.env },
  );
  const started = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    const deadline = Date.now() + 5_000;
    const poll = async () => {
      if (await answers(local.host, local.port)) return resolve(true);
      if (Date.now() > deadline || child.exitCode !== null) return resolve(false);
      setTimeout(poll, 100);
    };
    void poll();
  });
  if (!started) {
    child.kill();
    throw new Error(
      `Redis is needed and none answers at ${local.host}:${local.port}, and no redis-server could be started. ` +
        'Set REDIS_URL=redis://host:port, or install Redis (Debian/Ubuntu: apt-get install redis-server).',
    );
  }
  return { url, stop: () => child.kill() };
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
