import type { ApiErrorBody } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(describeApiError(status, body));
    this.name = 'ApiError';
  }
}

export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(`cannot reach the promoter at ${url}: ${reason} (set PROMOTER_URL or --url)`);
    this.name = 'ConnectionError';
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

export class ApiClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly requestTimeoutMs = 30_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { body, headers });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.token}`,
      // Lets the service record approvals given here as coming through the CLI.
      'x-promoter-client': 'promoctl',
      ...options.headers,
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      throw new ConnectionError(this.base, connectionReason(err, this.requestTimeoutMs));
    }
    const text = await res.text();
    const body = parseJson(text);
    if (!res.ok) throw new ApiError(res.status, body === undefined ? text : body);
    if (body === undefined) {
      throw new ApiError(res.status, { statusCode: res.status, error: 'Bad Response', message: 'expected a JSON body' });
    }
    return { status: res.status, body: body as T };
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function connectionReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no response within ${timeoutMs}ms`;
  }
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  return typeof body === 'object' && body !== null && 'message' in body;
}

function describeApiError(status: number, body: unknown): string {
  if (!isErrorBody(body)) {
    const text = typeof body === 'string' && body.trim() !== '' ? `: ${body.trim().slice(0, 200)}` : '';
    return `${status}${text}`;
  }
  const message = Array.isArray(body.message) ? body.message.join('; ') : String(body.message);
  return `${body.statusCode ?? status} ${body.error ?? 'Error'}: ${message}`;
}
