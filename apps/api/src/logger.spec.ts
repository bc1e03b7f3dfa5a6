import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createPino, redactQuery } from './logger.js';

describe('request logging', () => {
  it('logs request URLs without their query values (a token or signed link in a query never reaches the log)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const app = Fastify({ loggerInstance: createPino('debug', sink) });
    app.get('/api/v1/things', async () => ({ ok: true }));
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/api/v1/things?token=s3cret-value&X-Amz-Signature=abcdef123&page=2' });
    await app.close();

    expect(res.statusCode).toBe(200);
    const logged = lines.join('');
    expect(logged).toContain('"url":"/api/v1/things?token=[redacted]&X-Amz-Signature=[redacted]&page=[redacted]"');
    expect(logged).not.toContain('s3cret-value');
    expect(logged).not.toContain('abcdef123');
  });

  it('leaves a URL without a query as it is', () => {
    expect(redactQuery('/healthz')).toBe('/healthz');
    expect(redactQuery('/a?b')).toBe('/a?b=[redacted]');
  });
});
