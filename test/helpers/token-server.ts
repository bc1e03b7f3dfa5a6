import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// A registry token service as distribution's `auth.token` expects one: GET /token?service=…&scope=…
// with Basic credentials, answered with an ES256 JWT whose `x5c` certificate is the registry's
// rootcertbundle. It grants whatever it is asked for, and records every request it served.

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenRequest {
  at: number;
  service: string | null;
  /** Every `scope` parameter, in the order sent (`repository:<name>:<actions>`). */
  scopes: string[];
  /** The Basic username given, or null. */
  account: string | null;
  status: number;
}

export interface TokenServerOptions {
  service?: string;
  issuer?: string;
  username?: string;
  password?: string;
  expiresIn?: number;
}

export interface TokenServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** `<url>/token`: the registry's `auth.token.realm`. */
  realm: string;
  service: string;
  issuer: string;
  username: string;
  password: string;
  /** PEM file of the self-signed signing certificate: the registry's `auth.token.rootcertbundle`. */
  certPath: string;
  /** Every token request served, in order. */
  requests: TokenRequest[];
  /** A signed token granting `access`, as the server issues them (not recorded in `requests`). */
  mint(access: Access[], subject?: string): string;
  /** Scopes as sent (`repository:a:pull,push`) to the access they ask for. */
  accessFor(scopes: string[]): Access[];
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Starts the token service on a free loopback port, with a fresh P-256 key and certificate. */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const service = options.service ?? 'test-registry';
  const issuer = options.issuer ?? 'test-issuer';
  const username = options.username ?? 'promoter';
  const password = options.password ?? 'token-password';
  const expiresIn = options.expiresIn ?? 300;
  const dir = await mkdtemp(join(tmpdir(), 'token-server-'));
  let server: Server | null = null;
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=test-token-issuer',
    ]);
    const key: KeyObject = createPrivateKey(await readFile(keyPath));
    const x5c = new X509Certificate(await readFile(certPath)).raw.toString('base64');

    const mint = (access: Access[], subject = username): string => {
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'ES256', typ: 'JWT', x5c: [x5c] };
      // distribution 2.8 reads `aud` as one string.
      const claims = { iss: issuer, sub: subject, aud: service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomUUID(), access };
      const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      // JWS wants the raw r||s signature, not DER.
      const signature = sign('sha256', Buffer.from(signed), { key, dsaEncoding: 'ieee-p1363' });
      return `${signed}.${b64url(signature)}`;
    };

    const accessFor = (scopes: string[]): Access[] =>
      scopes
        .flatMap((s) => s.split(' '))
        .filter(Boolean)
        .map((s) => {
          // repository:<name>:<actions>; the name holds no colon, but a type may carry a class (`repository(plugin)`).
          const first = s.indexOf(':');
          const last = s.lastIndexOf(':');
          return {
            type: s.slice(0, first),
            name: s.slice(first + 1, last),
            actions: s
              .slice(last + 1)
              .split(',')
              .filter(Boolean),
          };
        });

    const requests: TokenRequest[] = [];
    const expected = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://token.invalid');
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      };
      if (req.method !== 'GET' || url.pathname !== '/token')
        return answer(404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
      const auth = req.headers.authorization ?? '';
      const account = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0]! : null;
      const record: TokenRequest = {
        at: Date.now(),
        service: url.searchParams.get('service'),
        scopes: url.searchParams.getAll('scope'),
        account,
        status: 200,
      };
      requests.push(record);
      if (auth !== expected) {
        record.status = 401;
        return answer(
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] },
          { 'www-authenticate': 'Basic realm="token"' },
        );
      }
      if (record.service !== service) {
        record.status = 400;
        return answer(400, { errors: [{ code: 'INVALID_REQUEST', message: `unknown service '${record.service}'` }] });
      }
      const token = mint(accessFor(record.scopes), account!);
      answer(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const url = `http://127.0.0.1:${port}`;
    const running = server;
    return {
      url,
      realm: `${url}/token`,
      service,
      issuer,
      username,
      password,
      certPath,
      requests,
      mint,
      accessFor,
      async stop() {
        running.closeAllConnections();
        await new Promise<void>((resolve) => running.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    server?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface TokenProxy {
  /** http://127.0.0.1:<port>: use as a `RawRegistry` without credentials. */
  url: string;
  host: string;
  stop(): Promise<void>;
}

/**
 * A loopback proxy in front of a token-auth registry that sends every request with a token granting
 * pull, push and delete on the repository it names (and pull on a mount's `from`): how a test pushes
 * and reads images with the raw helpers, as a client already holding a token would.
 */
export async function tokenProxy(registryUrl: string, tokens: Pick<TokenServer, 'mint'>): Promise<TokenProxy> {
  const upstream = new URL(registryUrl);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const access: Access[] = [];
    const name = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(url.pathname)?.[1];
    if (name) access.push({ type: 'repository', name, actions: ['pull', 'push', 'delete'] });
    const from = url.searchParams.get('from');
    if (from) access.push({ type: 'repository', name: from, actions: ['pull'] });
    const headers = { ...req.headers, authorization: `Bearer ${tokens.mint(access)}` };
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.rawHeaders);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
