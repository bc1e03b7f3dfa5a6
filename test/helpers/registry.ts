import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RegistryConfig } from '#libs/config/index.js';
import { freePort } from './process.js';

export interface TestRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  username?: string;
  password?: string;
  /** Registry output so far (errors only: access logs are off). */
  output(): string;
  stop(): Promise<void>;
}

/** The pipeline's view of a test registry (or proxy): plain http on loopback. */
export function registryConfig(name: string, reg: { url: string; host: string }, extra: Partial<RegistryConfig> = {}): RegistryConfig {
  return { name, url: reg.url, host: reg.host, insecure: true, auth: { type: 'none' }, rateLimit: null, ...extra };
}

export interface StartRegistryOptions {
  auth?: 'htpasswd';
  username?: string;
  password?: string;
  /** Token auth (`auth.token`): the registry trusts JWTs whose `x5c` chains to `rootCertBundle` (a PEM file). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

/** Starts Debian's docker-registry (distribution 2.8) on a free loopback port with its own storage. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-'));
  try {
    const username = options.username ?? 'promoter';
    const password = options.password ?? 'secret-password';
    let auth = '';
    if (options.auth === 'htpasswd') {
      const { stdout } = await promisify(execFile)('htpasswd', ['-Bbn', username, password]).catch((err: Error) => {
        throw new Error(`htpasswd (apache2-utils) is needed for an authenticated test registry: ${err.message}`);
      });
      await writeFile(join(dir, 'htpasswd'), stdout);
      auth = `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${join(dir, 'htpasswd')}\n`;
    }
    if (options.token) {
      if (options.auth) throw new Error('startRegistry: choose htpasswd or token auth, not both');
      const { realm, service, issuer, rootCertBundle } = options.token;
      const q = (v: string) => JSON.stringify(v);
      auth = `auth:\n  token:\n    realm: ${q(realm)}\n    service: ${q(service)}\n    issuer: ${q(issuer)}\n    rootcertbundle: ${q(rootCertBundle)}\n`;
    }
    // A port taken between freePort() and the registry's listen is retried with another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await writeFile(
        join(dir, 'config.yml'),
        `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n` +
          `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
          `http:\n  addr: 127.0.0.1:${port}\n  secret: test-secret\n${auth}`,
      );
      const running = spawnRegistry(join(dir, 'config.yml'));
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitForRegistry(url, running);
      } catch (err) {
        await running.stop();
        if (attempt < 3 && /address already in use/.test(running.output())) continue;
        throw err;
      }
      return {
        url,
        host: `127.0.0.1:${port}`,
        ...(options.auth ? { username, password } : {}),
        output: running.output,
        async stop() {
          await running.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function spawnRegistry(config: string): { child: ChildProcess; output(): string; stop(): Promise<void> } {
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      output += String(err);
      resolve();
    });
  });
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForRegistry(url: string, running: { child: ChildProcess; output(): string }, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null || running.child.signalCode !== null) {
      throw new Error(`docker-registry exited early: ${running.output()}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry not ready in ${timeoutMs} ms: ${running.output()}`);
}

export interface ProxyRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export type Fault =
  | { type: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Closes the connection without an answer. */
  | { type: 'drop' }
  /** Passes through but flips one byte of the response body (at `offset`, default the middle of the first chunk). */
  | { type: 'corrupt'; offset?: number }
  /** Passes the answer through, then cuts the connection after `after` body bytes. */
  | { type: 'cut'; after: number }
  /** Sends the request upstream under another URL (path and query). */
  | { type: 'rewrite'; url: (url: string) => string };

export interface FaultRule {
  match?: (req: ProxyRequest) => boolean;
  /** How many matching requests get the fault; then they pass through (default: all). */
  times?: number;
  fault: Fault;
}

export interface FaultProxy {
  url: string;
  host: string;
  /** Every request seen, in order, with the rule index applied (or null). */
  requests: (ProxyRequest & { fault: number | null; at: number })[];
  stop(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of `target` (an origin) that injects failures into the first
 * matching requests, then passes everything through, bodies streamed both ways.
 */
export async function faultProxy(target: string, plan: FaultRule[] | { rules: FaultRule[] }): Promise<FaultProxy> {
  const rules = Array.isArray(plan) ? plan : plan.rules;
  const left = rules.map((r) => r.times ?? Number.POSITIVE_INFINITY);
  const upstream = new URL(target);
  const requests: FaultProxy['requests'] = [];

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const seen: ProxyRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const index = rules.findIndex((r, i) => left[i]! > 0 && (r.match?.(seen) ?? true));
    if (index >= 0) left[index]!--;
    requests.push({ ...seen, fault: index >= 0 ? index : null, at: Date.now() });
    const fault = index >= 0 ? rules[index]!.fault : null;

    if (fault?.type === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.type === 'status') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? '');
      return;
    }
    const path = fault?.type === 'rewrite' ? fault.url(seen.url) : seen.url;
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: seen.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.rawHeaders);
      if (fault?.type === 'cut') {
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          const room = fault.after - sent;
          if (room <= 0) return;
          res.write(chunk.subarray(0, room));
          sent += Math.min(room, chunk.length);
          if (sent >= fault.after) {
            up.destroy();
            setTimeout(() => res.socket?.destroy(), 20);
          }
        });
        return;
      }
      if (fault?.type !== 'corrupt') {
        up.pipe(res);
        return;
      }
      let position = 0;
      let flipped = false;
      up.on('data', (chunk: Buffer) => {
        const at = (fault.offset ?? Math.floor(chunk.length / 2)) - position;
        if (!flipped && at >= 0 && at < chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[at] = chunk[at]! ^ 0xff;
          flipped = true;
        }
        position += chunk.length;
        if (!res.write(chunk)) {
          up.pause();
          res.once('drain', () => up.resume());
        }
      });
      up.on('end', () => res.end());
    });
    out.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
