import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { INTERNAL_ERROR, toErrorBody } from './error-shape.js';

/** Every error leaves as `{statusCode, error, message, details}`; the unexpected ones are logged once. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let shaped = toErrorBody(err);
    if (!shaped) {
      this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      shaped = INTERNAL_ERROR;
    }
    void reply.status(shaped.statusCode).send(shaped);
  }
}
