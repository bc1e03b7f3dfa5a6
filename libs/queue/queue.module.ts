import { BullModule } from '@nestjs/bullmq';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { JobQueues } from './job-queues.js';
import { QUEUES } from './queues.js';

@Global()
@Module({})
export class QueueModule {
  static forRoot(redisUrl: string, prefix: string): DynamicModule {
    const queues = Object.values(QUEUES).map((name) => ({ name }));
    return {
      module: QueueModule,
      imports: [
        BullModule.forRoot({
          // Workers block on Redis; they must not give up on a request.
          connection: { url: redisUrl, maxRetriesPerRequest: null },
          prefix,
          defaultJobOptions: {
            attempts: 5,
            backoff: { type: 'exponential', delay: 1_000 },
            removeOnComplete: { age: 3_600, count: 10_000 },
            removeOnFail: { age: 86_400 },
          },
        }),
        BullModule.registerQueue(...queues),
      ],
      providers: [JobQueues],
      exports: [BullModule, JobQueues],
    };
  }
}
