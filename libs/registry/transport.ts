import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { RegistryConfig } from '#libs/config/index.js';
import { basicHeader, loadCredentials, parseChallenge, type BasicCredentials, type Challenge } from './credentials.js';
import { isListed, publicOnlyLookup, redirectRefusal } from './destinations.js';
import { RegistryError, type RegistryErrorCode } from './registry-error.js';
import { causeText, IdleTimer, RegistryResponse } from './response.js';
import { backoffDelay, isRetryableStatus, MAX_RETRY_AFTER_MS, parseRetryAfter, type RetryOptions } from './retry.js';
import { TokenBucket } from './throttle.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A body that can be read once (a streamed blob): such a request is never replayed. */
export interface StreamBody {
  stream: AsyncIterable<Uint8Array>;
  length: number | null;
}

export interface RequestSpec {
  method: Method;
  /** `/v2/…` on the registry, or an upload URL already checked by `uploadUrl`. */
  target: string | URL;
  scopes: string[];
  headers?: Record<string, string>;
  body?: Buffer | StreamBody;
  /** Statuses handed back to the caller instead of becoming errors (or retries). */
  accept?: number[];
  signal?: AbortSignal;
  /** A blob download: redirects to storage are followed (see `redirectRefusal`). Nothing else follows one. */
  followRedirects?: boolean;
}

export interface TransportOptions {
  env: Record<string, string | undefined>;
  timeoutMs: number;
  retries: RetryOptions;
}

interface CachedToken {
  value: Promise<string>;
  /** The token once it has arrived. */
  token?: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_SECONDS = 60;
/** A token answer is a small JSON document; anything longer is refused unread. */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
/** Docker Hub's API and token service live on different hosts. */
const BUILTIN_REALMS: Record<string, string[]> = {
  'registry-1.docker.io': ['auth.docker.io'],
  'docker.io': ['auth.docker.io'],
  'index.docker.io': ['auth.docker.io'],
};

/**
 * One connection pool for all configured hosts. undici's own request API rather than fetch: blob
 * bytes flow as Node streams with backpressure, without the WHATWG stream layers fetch puts
 * around both bodies (measured: a 4 × 100 MiB cross-registry copy took 2.7–2.8 s with fetch,
 * 1.3–1.9 s with this). Redirects are never followed here: the transport follows those of blob
 * downloads itself, after checking where they lead.
 */
const dispatcher: Dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 32 });
/** For storage hosts nobody configured: names resolving to private addresses are refused. */
const foreignDispatcher: Dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 32, connect: { lookup: publicOnlyLookup } });

/**
 * HTTP to one configured registry: authentication (anonymous, basic, bearer challenge), the
 * registry's rate limit, idle timeouts, and retries with backoff for what can be replayed.
 */
export class RegistryTransport {
  private readonly bucket: TokenBucket | null;
  private credentials: Promise<BasicCredentials | null> | null = null;
  private mode: 'probe' | 'basic' | 'bearer' = 'probe';
  /** Bearer challenges by repository scope: a realm learned for one repository is not used for another. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    readonly config: RegistryConfig,
    private readonly options: TransportOptions,
  ) {
    this.bucket = config.rateLimit ? new TokenBucket(config.rateLimit) : null;
  }

  /** Resolves an upload `Location` (maybe relative); refuses one that points at another host. */
  uploadUrl(location: string | null): URL {
    if (!location) throw new RegistryError('protocol', `${this.config.host}: upload answer has no Location`);
    const url = new URL(location, this.config.url);
    if (url.host.toLowerCase() !== this.config.host.toLowerCase()) {
      throw new RegistryError('protocol', `${this.config.host}: upload Location points at another host (${url.host})`);
    }
    // Behind a TLS-terminating proxy the registry may say http://: keep the configured scheme.
    return new URL(url.pathname + url.search, this.config.url);
  }

  async request(spec: RequestSpec): Promise<RegistryResponse> {
    const retries = this.options.retries;
    const oneShot = spec.body !== undefined && !Buffer.isBuffer(spec.body);
    let started = false;
    const body = oneShot ? trackStart((spec.body as StreamBody).stream, () => (started = true)) : (spec.body as Buffer | undefined);
    let reauthenticated = false;

    for (let attempt = 1; ; attempt++) {
      await this.bucket?.acquire(spec.signal);
      const authorization = await this.authorization(spec.scopes, spec.signal);
      let res: RegistryResponse;
      try {
        res = await this.send(spec, body, authorization);
      } catch (err) {
        if (err instanceof RegistryError && !err.retryable) throw err;
        if (spec.signal?.aborted) throw spec.signal.reason ?? err;
        if ((oneShot && started) || attempt >= retries.attempts) throw err;
        await sleep(backoffDelay(retries, attempt), undefined, { signal: spec.signal });
        continue;
      }
      const status = res.status;

      if (res.foreign !== null) {
        if (status >= 200 && status < 300) return res;
        // Storage the registry sent us to: its status counts, its words never reach a caller.
        await res.discard();
        const retryable = isRetryableStatus(status);
        const code: RegistryErrorCode = retryable
          ? 'unavailable'
          : status === 404
            ? 'not_found'
            : status === 401 || status === 403
              ? 'unauthorized'
              : 'protocol';
        const error = new RegistryError(code, `${this.describe(spec)}: redirected to ${res.foreign}, which answered ${status}`, {
          status,
          retryable,
        });
        if (!retryable || attempt >= retries.attempts) throw error;
        await sleep(backoffDelay(retries, attempt), undefined, { signal: spec.signal });
        continue;
      }
      if (spec.accept?.includes(status)) return res;

      if (status === 401) {
        const challenge = parseChallenge(res.header('www-authenticate'));
        await res.discard();
        if (!reauthenticated && (await this.learn(challenge, spec.scopes, authorization))) {
          reauthenticated = true;
          attempt--;
          if (oneShot && started) {
            throw new RegistryError('unauthorized', `${this.describe(spec)}: credentials expired during a streamed upload`, {
              status,
              retryable: true,
            });
          }
          continue;
        }
        throw new RegistryError('unauthorized', `${this.describe(spec)}: 401 ${challenge?.params.error ?? 'unauthorized'}`, {
          status,
        });
      }

      if (isRetryableStatus(status)) {
        const wait = parseRetryAfter(res.header('retry-after'));
        const detail = await errorDetail(res);
        const error = new RegistryError('unavailable', `${this.describe(spec)}: ${status}${detail}`, { status, retryable: true });
        if ((oneShot && started) || attempt >= retries.attempts || (wait !== null && wait > MAX_RETRY_AFTER_MS)) throw error;
        await sleep(wait ?? backoffDelay(retries, attempt), undefined, { signal: spec.signal });
        continue;
      }

      if (status >= 300 && status < 400) {
        await res.discard();
        throw new RegistryError(
          'protocol',
          `${this.describe(spec)}: answered ${status} (a redirect), which is followed only for blob downloads`,
          { status },
        );
      }
      if (status >= 400) throw await this.errorFrom(spec, res);
      return res;
    }
  }

  /** One exchange with the registry, following a blob download's redirects to where they may lead. */
  private async send(
    spec: RequestSpec,
    body: Buffer | AsyncIterable<Uint8Array> | undefined,
    authorization: string | null,
  ): Promise<RegistryResponse> {
    let url = typeof spec.target === 'string' ? new URL(spec.target, this.config.url) : spec.target;
    const origin = new URL(this.config.url).origin;
    for (let hops = 0; ; hops++) {
      const foreign = url.origin === origin ? null : url.origin;
      // Credentials belong to the registry: storage elsewhere gets the (signed) URL only.
      const res = await this.exchange(spec, url, body, foreign === null ? authorization : null, foreign);
      const location = res.header('location');
      if (!spec.followRedirects || !REDIRECT_STATUSES.has(res.status) || !location) return res;
      await res.discard();
      if (hops >= MAX_REDIRECTS) throw new RegistryError('protocol', `${this.describe(spec)}: more than ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new RegistryError('protocol', `${this.describe(spec)}: redirect Location is not a URL`);
      }
      const refusal = redirectRefusal(next, this.config);
      if (refusal) throw new RegistryError('protocol', `${this.describe(spec)}: redirect to ${next.origin} refused: ${refusal}`);
      url = next;
    }
  }

  private async exchange(
    spec: RequestSpec,
    url: URL,
    body: Buffer | AsyncIterable<Uint8Array> | undefined,
    authorization: string | null,
    foreign: string | null,
  ): Promise<RegistryResponse> {
    const controller = new AbortController();
    const timer = new IdleTimer(this.options.timeoutMs, () => controller.abort());
    const signal = spec.signal ? AbortSignal.any([controller.signal, spec.signal]) : controller.signal;
    // Registries and CDNs must hand over blob bytes untouched, or digests stop matching.
    const headers: Record<string, string> = { 'accept-encoding': 'identity', ...spec.headers };
    if (authorization) headers.authorization = authorization;
    let payload: Buffer | AsyncIterable<Uint8Array> | undefined = body;
    if (body !== undefined && !Buffer.isBuffer(body)) {
      const length = (spec.body as StreamBody).length;
      if (length !== null) headers['content-length'] = String(length);
      payload = touching(body, timer);
    }
    try {
      const raw = await request(url, {
        method: spec.method,
        headers,
        body: payload as Dispatcher.RequestOptions['body'],
        signal,
        dispatcher: foreign === null || isListed(url, this.config.redirects ?? []) ? dispatcher : foreignDispatcher,
        // The idle timer above is the only timeout: a large blob may take long, but never idles.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      if (spec.method === 'HEAD') await raw.body.dump();
      const body = spec.method === 'HEAD' ? null : raw.body;
      return new RegistryResponse(
        { status: raw.statusCode, headers: raw.headers, body },
        timer,
        controller,
        () => this.describe(spec),
        foreign,
        spec.signal,
      );
    } catch (err) {
      timer.stop();
      if (err instanceof RegistryError) throw err; // raised by the body stream itself (e.g. digest check)
      const inner = (err as { cause?: unknown }).cause;
      if (inner instanceof RegistryError) throw inner;
      if (timer.fired)
        throw new RegistryError('unavailable', `${this.describe(spec)}: timed out after ${this.options.timeoutMs} ms idle`, { cause: err });
      if (spec.signal?.aborted) throw spec.signal.reason ?? err;
      const where = foreign === null ? '' : ` (redirected to ${foreign})`;
      throw new RegistryError('unavailable', `${this.describe(spec)}${where}: ${causeText(err)}`, { cause: err });
    }
  }

  private async authorization(scopes: string[], signal?: AbortSignal): Promise<string | null> {
    if (this.mode === 'basic') {
      const creds = await this.creds();
      return creds ? basicHeader(creds) : null;
    }
    if (this.mode !== 'bearer') return null;
    // A scope whose challenge is not known yet goes out anonymous once, to hear its own challenge.
    const challenge = this.challenges.get(scopeKey(scopes));
    return challenge ? `Bearer ${await this.token(scopes, challenge, signal)}` : null;
  }

  /** Takes in a 401 challenge; true when a retry with new credentials may succeed. */
  private async learn(challenge: Challenge | null, scopes: string[], sent: string | null): Promise<boolean> {
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      const key = scopeKey(scopes);
      const known = this.challenges.get(key);
      this.challenges.set(key, challenge);
      this.mode = 'bearer';
      // Forget the token only if it is the one refused (others may have fetched a new one meanwhile).
      const cached = known ? this.tokens.get(tokenKey(scopes, known)) : undefined;
      if (cached?.token !== undefined && sent === `Bearer ${cached.token}`) this.tokens.delete(tokenKey(scopes, known!));
      return true;
    }
    if (challenge?.scheme === 'basic' && this.mode !== 'basic') {
      if (!(await this.creds())) return false;
      this.mode = 'basic';
      return true;
    }
    return false;
  }

  private creds(): Promise<BasicCredentials | null> {
    this.credentials ??= loadCredentials(this.config, this.options.env);
    this.credentials.catch(() => (this.credentials = null));
    return this.credentials;
  }

  private async token(scopes: string[], challenge: Challenge, signal?: AbortSignal): Promise<string> {
    const key = tokenKey(scopes, challenge);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    const entry: CachedToken = { value: Promise.resolve(''), expiresAt: Number.POSITIVE_INFINITY };
    entry.value = this.fetchToken(challenge, requestedScope(scopes, challenge), signal).then(
      ({ token, seconds }) => {
        entry.expiresAt = Date.now() + Math.max(0, seconds - Math.min(10, seconds / 10)) * 1000;
        entry.token = token;
        return token;
      },
      (err) => {
        if (this.tokens.get(key) === entry) this.tokens.delete(key);
        throw err;
      },
    );
    this.tokens.set(key, entry);
    return entry.value;
  }

  /** The realm a challenge names, if the pipeline trusts it: the registry's own host, or one it lists. */
  private trustedRealm(challenge: Challenge): URL {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm!);
    } catch {
      throw new RegistryError('protocol', `${this.config.host}: bearer realm is not a URL`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError('protocol', `${this.config.host}: bearer realm must be http(s)`);
    }
    const own = realm.host.toLowerCase() === this.config.host.toLowerCase();
    const listed = isListed(realm, [...(this.config.tokenRealms ?? []), ...(BUILTIN_REALMS[this.config.host.toLowerCase()] ?? [])]);
    if (!own && !listed) {
      // Not even an anonymous request: the answer's token would go back to the registry, so an
      // unvetted realm (a metadata service, say) could hand it someone else's secret.
      throw new RegistryError(
        'unauthorized',
        `${this.config.host}: bearer realm ${realm.host} is neither the registry's host nor listed in its tokenRealms; nothing was sent to it`,
      );
    }
    return realm;
  }

  private async fetchToken(challenge: Challenge, scope: string, signal?: AbortSignal): Promise<{ token: string; seconds: number }> {
    const realm = this.trustedRealm(challenge);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    for (const s of scope.split(' ').filter(Boolean)) realm.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    const creds = await this.creds();
    // Credentials go in clear only where the registry itself is reached in clear.
    if (creds && (realm.protocol === 'https:' || this.config.insecure)) headers.authorization = basicHeader(creds);

    const retries = this.options.retries;
    for (let attempt = 1; ; attempt++) {
      // The whole answer, not just each pause in it, within the timeout: a realm that drips bytes ends here.
      const timeout = AbortSignal.timeout(this.options.timeoutMs);
      const bounded = signal ? AbortSignal.any([timeout, signal]) : timeout;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(realm, { method: 'GET', headers, signal: bounded, dispatcher, headersTimeout: 0, bodyTimeout: 0 });
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        if (attempt >= retries.attempts) {
          throw new RegistryError(
            'unavailable',
            `token from ${realm.origin}: ${timeout.aborted ? `no answer within ${this.options.timeoutMs} ms` : causeText(err)}`,
            { cause: err },
          );
        }
        await sleep(backoffDelay(retries, attempt), undefined, { signal });
        continue;
      }
      const status = res.statusCode;
      if (isRetryableStatus(status) && attempt < retries.attempts) {
        drop(res);
        const retryAfter = res.headers['retry-after'];
        const wait = parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null);
        await sleep(Math.min(wait ?? backoffDelay(retries, attempt), MAX_RETRY_AFTER_MS), undefined, { signal });
        continue;
      }
      if (status !== 200) {
        drop(res);
        const code: RegistryErrorCode =
          status === 401 || status === 403 ? 'unauthorized' : isRetryableStatus(status) ? 'unavailable' : 'protocol';
        throw new RegistryError(code, `token from ${realm.origin}: ${status}`, { status });
      }
      const text = await readTokenAnswer(res, realm.origin, this.options.timeoutMs, timeout, signal);
      let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch {
        doc = {};
      }
      const token = typeof doc?.token === 'string' ? doc.token : typeof doc?.access_token === 'string' ? doc.access_token : null;
      if (!token) throw new RegistryError('protocol', `token from ${realm.origin}: answer has no token`);
      const seconds = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_SECONDS;
      return { token, seconds };
    }
  }

  private async errorFrom(spec: RequestSpec, res: RegistryResponse): Promise<RegistryError> {
    const status = res.status;
    const { codes, text } = await errorBody(res);
    const message = `${this.describe(spec)}: ${status}${text ? ` ${text}` : ''}`;
    if (codes.includes('DIGEST_INVALID')) return new RegistryError('digest_mismatch', message, { status });
    if (status === 404 || codes.some((c) => c.endsWith('_UNKNOWN') && c !== 'MANIFEST_BLOB_UNKNOWN')) {
      return new RegistryError('not_found', message, { status });
    }
    if (status === 403) return new RegistryError('unauthorized', message, { status });
    return new RegistryError('protocol', message, { status });
  }

  private describe(spec: RequestSpec): string {
    const target = typeof spec.target === 'string' ? spec.target : spec.target.pathname;
    return `${spec.method} ${this.config.host}${target.split('?')[0]}`;
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A token answer's text, refused past MAX_TOKEN_RESPONSE_BYTES or the timeout. */
async function readTokenAnswer(
  res: Dispatcher.ResponseData,
  origin: string,
  timeoutMs: number,
  timeout: AbortSignal,
  signal?: AbortSignal,
): Promise<string> {
  const tooLong = new RegistryError('protocol', `token from ${origin}: answer longer than ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
  if (Number(res.headers['content-length'] ?? NaN) > MAX_TOKEN_RESPONSE_BYTES) {
    drop(res);
    throw tooLong;
  }
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length;
      if (total > MAX_TOKEN_RESPONSE_BYTES) {
        drop(res);
        throw tooLong;
      }
      parts.push(chunk as Buffer);
    }
  } catch (err) {
    if (err === tooLong) throw err;
    if (signal?.aborted) throw signal.reason ?? err;
    const why = timeout.aborted ? `answer not complete within ${timeoutMs} ms` : causeText(err);
    throw new RegistryError('unavailable', `token from ${origin}: ${why}`, { cause: err });
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Releases an answer not to be read; its body's abort error is nobody's concern. */
function drop(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** Requests with the same repositories and actions share challenges and tokens. */
function scopeKey(scopes: string[]): string {
  return [...new Set(scopes.filter(Boolean))].sort().join(' ');
}

function requestedScope(scopes: string[], challenge: Challenge): string {
  return scopes.length > 0 ? scopeKey(scopes) : scopeKey((challenge.params.scope ?? '').split(' '));
}

function tokenKey(scopes: string[], challenge: Challenge): string {
  return `${challenge.params.realm}\u0000${challenge.params.service ?? ''}\u0000${requestedScope(scopes, challenge)}`;
}

async function errorBody(res: RegistryResponse): Promise<{ codes: string[]; text: string }> {
  try {
    const raw = (await res.bytes(64 * 1024)).toString('utf8');
    try {
      const doc = JSON.parse(raw) as { errors?: { code?: string; message?: string }[] };
      const errors = doc.errors ?? [];
      return { codes: errors.map((e) => e.code ?? ''), text: errors.map((e) => `${e.code}: ${e.message}`).join('; ') };
    } catch {
      return { codes: [], text: raw.trim().slice(0, 200) };
    }
  } catch {
    return { codes: [], text: '' };
  }
}

async function errorDetail(res: RegistryResponse): Promise<string> {
  const { text } = await errorBody(res);
  return text ? ` ${text}` : '';
}

async function* trackStart(stream: AsyncIterable<Uint8Array>, onStart: () => void): AsyncGenerator<Uint8Array> {
  onStart();
  yield* stream;
}

async function* touching(stream: AsyncIterable<Uint8Array>, timer: IdleTimer): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    timer.touch();
    yield chunk;
  }
  timer.touch();
}
