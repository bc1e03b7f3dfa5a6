import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { JobSchedulerTemplateOptions, Queue } from 'bullmq';

interface Schedule {
  queue: Queue;
  id: string;
  everyMs: number;
  template: { name: string; opts: JobSchedulerTemplateOptions };
}

/**
 * The repeatable jobs this worker relies on (the reconciler, the Slack catch-up) live only in
 * Redis: a FLUSHALL or a restart without persistence deletes them, and nothing would run the
 * reconciler again until a worker restarted. Every worker process therefore checks, at the
 * schedule's own pace, that each schedule still exists and creates it again when it does not.
 * The check never upserts an existing schedule: an upsert moves its next run, and several workers
 * doing that every interval could push the run out for good.
 */
@Injectable()
export class Schedules implements OnApplicationShutdown {
  private readonly logger = new Logger(Schedules.name);
  private readonly timers: NodeJS.Timeout[] = [];

  /** Creates the schedule now and keeps it there. */
  async keep(queue: Queue, id: string, everyMs: number, template: Schedule['template']): Promise<void> {
    const schedule: Schedule = { queue, id, everyMs, template };
    await queue.upsertJobScheduler(id, { every: everyMs }, template);
    const timer = setInterval(() => void this.restore(schedule), everyMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** True when the schedule was missing and has been created again. */
  async restore(schedule: Schedule): Promise<boolean> {
    try {
      if (await schedule.queue.getJobScheduler(schedule.id)) return false;
      await schedule.queue.upsertJobScheduler(schedule.id, { every: schedule.everyMs }, schedule.template);
      this.logger.warn(`the ${schedule.id} schedule was missing from Redis (flushed or restarted without persistence): created again`);
      return true;
    } catch (err) {
      // Redis away: the next check tries again; BullMQ's own connection reconnects meanwhile.
      this.logger.warn(`could not check the ${schedule.id} schedule: ${(err as Error).message}`);
      return false;
    }
  }

  onApplicationShutdown(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }
}
