import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AppConfig } from '../../../libs/config/index.js';
import { CoreModule } from '../../../libs/workflow/index.js';
import { WorkerModule } from '../../worker/src/worker.module.js';
import { ApiModule } from './api.module.js';
import { ErrorFilter } from './error.filter.js';
import { INTERNAL_ERROR, toErrorBody } from './error-shape.js';
import { createPino, PinoLogger } from './logger.js';

export const BODY_LIMIT = 1024 * 1024;

export interface AppParts {
  config: AppConfig;
  redisUrl: string;
  /** Serve HTTP. */
  api: boolean;
  /** Run the queue processors in this process. */
  worker: boolean;
  pino?: Logger;
}

@Module({})
class RootModule {
  static forRoot(parts: AppParts): DynamicModule {
    return {
      module: RootModule,
      imports: [
        CoreModule.forRoot(parts.config, parts.redisUrl),
        ...(parts.api ? [ApiModule] : []),
        ...(parts.worker ? [WorkerModule] : []),
      ],
    };
  }
}

/** The HTTP application (with the worker inside it when parts.worker), not yet listening. */
export async function createHttpApp(parts: AppParts): Promise<NestFastifyApplication> {
  const pino = parts.pino ?? createPino(parts.config.process.logLevel);
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT, loggerInstance: pino, disableRequestLogging: pino.level !== 'debug' && pino.level !== 'trace' });
  const app = await NestFactory.create<NestFastifyApplication>(RootModule.forRoot({ ...parts, api: true }), adapter, {
    logger: new PinoLogger(pino),
    bufferLogs: false,
  });
  app.useGlobalFilters(new ErrorFilter());
  // Errors raised by Fastify before a route runs (body too large, malformed JSON) get the same shape.
  app
    .getHttpAdapter()
    .getInstance()
    .setErrorHandler((err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      const shaped = toErrorBody(err);
      if (!shaped) pino.error({ err }, 'unhandled error');
      void reply.status((shaped ?? INTERNAL_ERROR).statusCode).send(shaped ?? INTERNAL_ERROR);
    });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Image promoter')
      .setDescription('Promotes container images between environments behind gates and approvals')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  app.enableShutdownHooks();
  await app.init();
  return app;
}

/** The worker alone: no HTTP server. */
export async function createWorkerContext(parts: AppParts): Promise<INestApplicationContext> {
  const pino = parts.pino ?? createPino(parts.config.process.logLevel);
  const app = await NestFactory.createApplicationContext(RootModule.forRoot({ ...parts, api: false, worker: true }), {
    logger: new PinoLogger(pino),
  });
  app.enableShutdownHooks();
  await app.init();
  return app;
}
