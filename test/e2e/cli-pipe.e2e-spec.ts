import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built promoctl (bin/promoctl.js runs dist/): the pipe handling lives in its main module.
let server: Server;
let url: string;
let polls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    // Each poll sees a new status, so promoctl keeps printing after its reader has gone.
    const status = ['pending', 'evaluating', 'awaiting_approval'][Math.min(polls++, 2)];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'p-1',
        image: 'r/app@sha256:abc',
        digest: 'sha256:abc',
        source: 'dev',
        target: 'staging',
        status,
        gates: [],
        approvals: [],
        reviews: [],
        requestedBy: { id: 'x', name: 'x' },
      }),
    );
    void req;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('promoctl writing into a closed pipe (promoctl … | head -1)', () => {
  it('stops quietly: no stack trace, no error', async () => {
    const child = spawn(process.execPath, ['bin/promoctl.js', 'wait', 'p-1', '--interval', '100ms', '--timeout', '20s'], {
      env: { ...process.env, PROMOTER_URL: url, PROMOTER_TOKEN: 't' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString())));
    // What head does after its first line: close the read end.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(first).toContain('promotion p-1: pending');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
