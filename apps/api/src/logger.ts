import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

const REDACT = { paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'token'], censor: '[redacted]' };

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** A URL as logged: the query string may carry a token or a signed link, so only its keys are kept. */
export function redactQuery(url: string | undefined): string | undefined {
  if (url === undefined) return url;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const keys = [...new Set(new URLSearchParams(url.slice(q + 1)).keys())];
  return `${url.slice(0, q)}?${keys.map((k) => `${encodeURIComponent(k)}=[redacted]`).join('&')}`;
}

/**
 * JSON lines for log collectors; readable colour lines for a person at a terminal (`auto` decides
 * by whether stdout is one). `destination` is for tests.
 */
export function createPino(
  level: string,
  format: 'auto' | 'json' | 'pretty' = 'auto',
  destination?: DestinationStream & { isTTY?: boolean },
): Logger {
  const options = {
    level,
    base: { service: 'image-promoter' },
    redact: REDACT,
    // Fastify's request lines (debug level) take this serializer in place of its own full-URL one.
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: redactQuery(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
  const out = destination ?? process.stdout;
  const pretty = format === 'pretty' || (format === 'auto' && (out as { isTTY?: boolean }).isTTY === true);
  if (!pretty) return destination ? pino(options, destination) : pino(options);
  return pino(
    options,
    PinoPretty({
      destination: out as NodeJS.WritableStream,
      colorize: format === 'auto' || (out as { isTTY?: boolean }).isTTY === true,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service,context,step,promotionId',
      messageFormat: '{if context}{context}: {end}{msg}',
      singleLine: true,
    }),
  );
}

/**
 * Nest's own start-up chatter (a line per module and per route, some 60 lines): kept for `debug`,
 * so that what `info` shows at start is what a person needs.
 */
const START_UP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/** A message given as `{ msg, ...fields }` keeps its fields as fields of the line. */
function split(message: unknown): [Record<string, unknown>, string] {
  if (message !== null && typeof message === 'object' && 'msg' in message) {
    const { msg, ...fields } = message as { msg: unknown };
    return [fields, String(msg)];
  }
  return [{}, String(message)];
}

/** Nest's logger interface over pino. */
export class PinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}
  log(message: unknown, context?: string) {
    const [fields, msg] = split(message);
    if (context && START_UP_CONTEXTS.has(context)) this.pino.debug({ context, ...fields }, msg);
    else this.pino.info({ context, ...fields }, msg);
  }
  error(message: unknown, trace?: string, context?: string) {
    const [fields, msg] = split(message);
    this.pino.error({ context, trace, ...fields }, msg);
  }
  warn(message: unknown, context?: string) {
    const [fields, msg] = split(message);
    this.pino.warn({ context, ...fields }, msg);
  }
  debug(message: unknown, context?: string) {
    const [fields, msg] = split(message);
    this.pino.debug({ context, ...fields }, msg);
  }
  verbose(message: unknown, context?: string) {
    const [fields, msg] = split(message);
    this.pino.trace({ context, ...fields }, msg);
  }
  fatal(message: unknown, context?: string) {
    const [fields, msg] = split(message);
    this.pino.fatal({ context, ...fields }, msg);
  }
}
