import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createPino, PinoLogger, redactQuery } from './logger.js';

/** A destination that keeps what was written; `isTTY` as a terminal would report it. */
function sink(isTTY = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

const line = { msg: 'promotion 0b7c requested by token:1: reg/dev/web@sha256:ab → staging', step: 'requested', promotionId: '0b7c' };

describe('createPino', () => {
  it('writes JSON lines when stdout is not a terminal, with the fields of a lifecycle line', () => {
    const out = sink(false);
    new PinoLogger(createPino('info', 'auto', out.stream)).log(line, 'Promotion');
    const parsed = JSON.parse(out.text().trim());
    expect(parsed).toMatchObject({ level: 30, context: 'Promotion', step: 'requested', promotionId: '0b7c', msg: line.msg });
  });

  it('writes one readable colour line per message at a terminal', () => {
    const out = sink(true);
    new PinoLogger(createPino('info', 'auto', out.stream)).log(line, 'Promotion');
    const text = out.text();
    expect(text).not.toContain('{"level"');
    expect(text).toContain('\u001b['); // ANSI colour
    expect(text.replace(/\u001b\[[0-9;]*m/g, '')).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Promotion: promotion 0b7c requested by token:1: reg\/dev\/web@sha256:ab → staging\n$/,
    );
  });

  it('LOG_FORMAT=pretty without a terminal is readable and free of colour codes', () => {
    const out = sink(false);
    createPino('info', 'pretty', out.stream).info('hello');
    expect(out.text()).toMatch(/INFO: hello\n$/);
    expect(out.text()).not.toContain('\u001b[');
  });

  it('never writes a token', () => {
    const out = sink(false);
    const log = createPino('info', 'json', out.stream);
    log.info({ token: 'prm_secret', req: { headers: { authorization: 'Bearer prm_secret' } }, body: { token: 'prm_secret' } }, 'x');
    expect(out.text()).not.toContain('prm_secret');
  });
});

describe('PinoLogger', () => {
  it("keeps Nest's route and module listing for debug", () => {
    const info = sink();
    const atInfo = new PinoLogger(createPino('info', 'json', info.stream));
    atInfo.log('Mapped {/api/v1/promotions, POST} route', 'RouterExplorer');
    atInfo.log('ApiModule dependencies initialized', 'InstanceLoader');
    atInfo.log('Nest application successfully started', 'NestApplication');
    expect(info.text()).toBe('');
    atInfo.warn('something a person must see', 'RouterExplorer');
    expect(info.text()).toContain('something a person must see');

    const debug = sink();
    new PinoLogger(createPino('debug', 'json', debug.stream)).log('Mapped {/api/v1/promotions, POST} route', 'RouterExplorer');
    expect(JSON.parse(debug.text())).toMatchObject({ level: 20, msg: 'Mapped {/api/v1/promotions, POST} route' });
  });
});

describe('request logging', () => {
  it('logs request URLs without their query values (a token or signed link in a query never reaches the log)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const app = Fastify({ loggerInstance: createPino('debug', 'json', sink) });
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
