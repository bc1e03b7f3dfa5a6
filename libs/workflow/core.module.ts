import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, type AppConfig } from '../config/index.js';
import { DbModule } from '../db/index.js';
import { QueueModule } from '../queue/index.js';

/** What every process needs: the validated config, the database and the queues. */
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, redisUrl: string): DynamicModule {
    return {
      module: CoreModule,
      imports: [ConfigModule.forRoot(config), DbModule, QueueModule.forRoot(redisUrl, config.process.redisPrefix)],
    };
  }
}
