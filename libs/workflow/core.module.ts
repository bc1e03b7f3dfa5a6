import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, type AppConfig } from '#libs/config/index.js';
import { DbModule } from '#libs/db/index.js';
import { QueueModule } from '#libs/queue/index.js';

/** True in a process that runs the worker: only such a process opens the signing key. */
export const HOLDS_SIGNING_KEY = Symbol('HOLDS_SIGNING_KEY');

/** What every process needs: the validated config, the database and the queues. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, redisUrl: string, options: { worker: boolean } = { worker: true }): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        DbModule,
        QueueModule.forRoot(redisUrl, config.process.redisPrefix, config.pipeline.worker.retries.gates),
      ],
      providers: [{ provide: HOLDS_SIGNING_KEY, useValue: options.worker }],
      exports: [HOLDS_SIGNING_KEY],
    };
  }
}
