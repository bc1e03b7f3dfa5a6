import { describe, expect, it } from 'vitest';
import type { RegistryConfig } from '#libs/config/index.js';
import { backoffDelay, parseRetryAfter } from './retry.js';
import { Semaphore, TokenBucket } from './throttle.js';
import { RegistryTransport } from './transport.js';

describe('retry timing', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('draws full-jitter delays under an exponential, capped ceiling', () => {
    const opts = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(opts, 1, () => 0.999)).toBe(99);
    expect(backoffDelay(opts, 3, () => 0.999)).toBe(399);
    expect(backoffDelay(opts, 10, () => 0.999)).toBe(999);
    expect(backoffDelay(opts, 3, () => 0)).toBe(0);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then spaces requests at the rate', async () => {
    const bucket = new TokenBucket(20);
    const started = performance.now();
    for (let i = 0; i < 20; i++) await bucket.acquire();
    expect(performance.now() - started).toBeLessThan(50);
    for (let i = 0; i < 5; i++) await bucket.acquire();
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
  });
});

describe('Semaphore', () => {
  it('never runs more than its limit at once', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        sem.run(async () => {
          most = Math.max(most, ++active);
          await new Promise((r) => setTimeout(r, 5));
          active--;
        }),
      ),
    );
    expect(most).toBe(2);
  });
});

describe('upload locations', () => {
  const config: RegistryConfig = {
    name: 'r',
    url: 'https://reg.example.com',
    host: 'reg.example.com',
    insecure: false,
    auth: { type: 'none' },
    rateLimit: null,
  };
  const transport = new RegistryTransport(config, { env: {}, timeoutMs: 1000, retries: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });

  it('resolves relative locations and keeps their query', () => {
    expect(transport.uploadUrl('/v2/a/blobs/uploads/123?_state=xyz').href).toBe(
      'https://reg.example.com/v2/a/blobs/uploads/123?_state=xyz',
    );
    expect(transport.uploadUrl('http://reg.example.com/v2/a/blobs/uploads/1?x=1').href).toBe(
      'https://reg.example.com/v2/a/blobs/uploads/1?x=1',
    );
  });

  it('refuses a location on another host or none at all', () => {
    expect(() => transport.uploadUrl('https://evil.example.com/v2/a/blobs/uploads/1')).toThrow(/another host/);
    expect(() => transport.uploadUrl(null)).toThrow(/no Location/);
  });
});
