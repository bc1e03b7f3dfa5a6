/** PostgreSQL's SQLSTATE for a unique-constraint violation, with the constraint it names. */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e?.code ?? e?.driverError?.code;
  if (code !== '23505') return null;
  return e.constraint ?? e.driverError?.constraint ?? '';
}

/** Node's socket errors that mean the server could not be reached or went away. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs that mean PostgreSQL cannot serve now, not that the request was wrong: connection
 * exceptions (08…), too many connections, and a server shutting down or starting up (57P01-57P03).
 */
function unavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '53300' || code === '57P01' || code === '57P02' || code === '57P03';
}

/** What pg, the pg pool and ioredis say when their server is away (they carry no code for it). */
const UNREACHABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Connection is closed\.?$/,
  /^Reached the max retries per request limit/,
  /^Stream isn't writeable/,
];

/**
 * Names the dependency an error says is unreachable ('PostgreSQL' or 'Redis'), or null when the
 * error is something else. A request that fails this way is answered 503 with Retry-After, never
 * 500: nothing about the request was wrong, and it may be sent again once the service is back.
 */
export function unavailableDependency(err: unknown, depth = 0): 'PostgreSQL' | 'Redis' | null {
  if (!err || typeof err !== 'object' || depth > 4) return null;
  const e = err as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    driverError?: unknown;
    cause?: unknown;
    errors?: unknown;
    port?: unknown;
  };
  const fromRedis =
    e.name === 'MaxRetriesPerRequestError' || e.port === 6379 || (typeof e.message === 'string' && /redis/i.test(e.message));
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (UNREACHABLE.has(code) || UNREACHABLE_MESSAGES.some((m) => m.test(message))) {
    return fromRedis || /^(Connection is closed|Reached the max retries|Stream isn't writeable)/.test(message) ? 'Redis' : 'PostgreSQL';
  }
  if (/^[0-9A-Z]{5}$/.test(code) && unavailableSqlState(code)) return 'PostgreSQL';
  // TypeORM wraps the driver's error; an AggregateError (several addresses refused) holds them.
  for (const inner of [e.driverError, e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = unavailableDependency(inner, depth + 1);
    if (found) return found;
  }
  return null;
}
