import { BullModule } from '@nestjs/bullmq';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { jobRetry, type RetryPolicy } from '#libs/config/index.js';
import { JobQueues } from './job-queues.js';
import { QUEUES } from './queues.js';

@Global()
@Module({})
export class QueueModule {
  /** `retries`: the jobs' default policy (the gate jobs use it; promote and notify jobs bring their own). */
  static forRoot(redisUrl: string, prefix: string, retries: RetryPolicy): DynamicModule {
    const queues = Object.values(QUEUES).map((name) => ({ name }));
    return {
      module: QueueModule,
      imports: [
        BullModule.forRoot({
          // Workers block on Redis; they must not give up on a request.
          connection: { url: redisUrl, maxRetriesPerRequest: null },
          prefix,
          defaultJobOptions: {
            ...jobRetry(retries),
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
