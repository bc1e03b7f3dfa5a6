import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { resolveRedis } from './redis.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'promoter-redis-'));

describe('resolveRedis', () => {
  it('uses REDIS_URL as given', async () => {
    expect(await resolveRedis('redis://cache:6380/2', dataDir)).toEqual({ url: 'redis://cache:6380/2' });
  });

  it('starts a redis-server from PATH when nothing answers, and stops it', async () => {
    const port = await freePort();
    const target = await resolveRedis(null, dataDir, { host: '127.0.0.1', port });
    try {
      expect(target.url).toBe(`redis://127.0.0.1:${port}`);
      const client = new Redis(target.url);
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    } finally {
      target.stop?.();
    }
    expect(target.stop).toBeTypeOf('function');
  });

  it('uses what already answers without starting anything', async () => {
    const port = await freePort();
    const server = createServer().listen(port, '127.0.0.1');
    try {
      const target = await resolveRedis(null, dataDir, { host: '127.0.0.1', port });
      expect(target).toEqual({ url: `redis://127.0.0.1:${port}` });
    } finally {
      server.close();
    }
  });

  it('says how to get Redis when none answers and none can be started', async () => {
    const port = await freePort();
    const noRedis = { PATH: mkdtempSync(join(tmpdir(), 'empty-path-')) };
    expect(() => execFileSync('redis-server', ['--version'], { env: noRedis, stdio: 'ignore' })).toThrow();
    await expect(resolveRedis(null, dataDir, { host: '127.0.0.1', port, env: noRedis })).rejects.toThrow(
      /none answers at 127\.0\.0\.1:\d+.*Set REDIS_URL=redis:\/\/host:port, or install Redis/,
    );
  });
});
