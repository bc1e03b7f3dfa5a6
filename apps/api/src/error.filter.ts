import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { unavailableDependency } from '#libs/db/index.js';
import { INTERNAL_ERROR, toErrorBody, unavailableBody } from './error-shape.js';

/** Seconds a client should wait before sending a request again that failed on a dependency being down. */
export const RETRY_AFTER_S = 5;

/** Every error leaves as `{statusCode, error, message, details}`; the unexpected ones are logged once. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let shaped = toErrorBody(err);
    if (!shaped) {
      const down = unavailableDependency(err);
      if (down) {
        // Not a bug and nothing the caller did: one line, no stack, and a 503 it may retry.
        this.logger.warn(`${down} unreachable: ${err instanceof Error ? err.message : String(err)}`);
        void reply.status(503).header('retry-after', String(RETRY_AFTER_S)).send(unavailableBody(down, RETRY_AFTER_S));
        return;
      }
      this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      shaped = INTERNAL_ERROR;
    }
    void reply.status(shaped.statusCode).send(shaped);
  }
}
