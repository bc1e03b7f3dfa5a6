import { Module, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fastifyCookie from '@fastify/cookie';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config/index.js';
import { CoreModule, type GateHandlers } from '#libs/workflow/index.js';
import { WorkerModule } from '../../worker/src/worker.module.js';
import { ErrorFilter } from './error.filter.js';
import { HealthModule } from './health/health.module.js';
import { recordHttpMetrics } from './http-metrics.js';
import { createPino, PinoLogger } from './logger.js';
import { useBodyParsers } from './json-body.js';
import { openApiDocument } from './openapi.js';

export const BODY_LIMIT = 1024 * 1024;

export interface AppParts {
  config: AppConfig;
  redisUrl: string;
  /** Serve HTTP. */
  api: boolean;
  /** Run the queue processors in this process. */
  worker: boolean;
  pino?: Logger;
  /** Gate implementations to run instead of the built-in set (tests plug theirs in here). */
  gateHandlers?: GateHandlers;
}

@Module({})
class RootModule {
  /**
   * `api`: the API module when this process serves it (loaded only then: its controllers pull in
   * the OpenAPI machinery, which a worker has no use for). `http`: the process serves HTTP, so it
   * answers probes even without the API.
   */
  static forRoot(parts: AppParts, http: boolean, api: Type<unknown> | null = null): DynamicModule {
    return {
      module: RootModule,
      imports: [
        CoreModule.forRoot(parts.config, parts.redisUrl, { worker: parts.worker }),
        ...(api ? [api] : http ? [HealthModule] : []),
        ...(parts.worker ? [WorkerModule.forRoot(parts.gateHandlers)] : []),
      ],
    };
  }
}

/**
 * The HTTP application (with the worker inside it when parts.worker), not yet listening. With
 * `api: false` it serves only /healthz, /readyz and /metrics: the worker process's probe port.
 */
export async function createHttpApp(parts: AppParts): Promise<NestFastifyApplication> {
  const pino = parts.pino ?? createPino(parts.config.process.logLevel, parts.config.process.logFormat);
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    loggerInstance: pino,
    // One line per request only when debugging: at hundreds of requests a second it is noise.
    logController: new LogController({ disableRequestLogging: pino.level !== 'debug' && pino.level !== 'trace' }),
  });
  // A route may raise its own body limit with @RouteConfig({ bodyLimit }) (scanner reports are large).
  adapter.getInstance().addHook('onRoute', (route) => {
    const limit = (route.config as { bodyLimit?: unknown } | undefined)?.bodyLimit;
    if (typeof limit === 'number') route.bodyLimit = limit;
  });
  const api = parts.api ? (await import('./api.module.js')).ApiModule : null;
  const app = await NestFactory.create<NestFastifyApplication>(RootModule.forRoot(parts, true, api), adapter, {
    logger: new PinoLogger(pino),
    bufferLogs: false,
    // A failed start-up throws to the caller, which says why in one line (Nest would abort the process).
    abortOnError: false,
  });
  app.useGlobalFilters(new ErrorFilter());
  useBodyParsers(app);
  // Sign-in sessions ride in cookies (identity.oidc); nothing else reads or sets one.
  await app.register(fastifyCookie);
  recordHttpMetrics(app.getHttpAdapter().getInstance());
  if (!parts.api) {
    await app.init();
    return app;
  }
  const { SwaggerModule } = await import('@nestjs/swagger');
  const document = await openApiDocument(app);
  SwaggerModule.setup('docs', app, document);
  await app.init();
  return app;
}

/** The worker alone: no HTTP server. */
export async function createWorkerContext(parts: AppParts): Promise<INestApplicationContext> {
  const pino = parts.pino ?? createPino(parts.config.process.logLevel, parts.config.process.logFormat);
  const app = await NestFactory.createApplicationContext(RootModule.forRoot({ ...parts, api: false, worker: true }, false), {
    logger: new PinoLogger(pino),
    abortOnError: false,
  });
  await app.init();
  return app;
}
