import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditIntegrator } from '#libs/workflow/index.js';

const IDLE_MS = 250;
const RETRY_MS = 5_000;

/**
 * Runs the audit integrator in every worker; the advisory lock lets exactly one of them link
 * events at a time, and another takes over the moment it stops. A full batch is followed at
 * once by the next, so a burst is absorbed at the integrator's pace, not the poll interval's.
 */
@Injectable()
export class AuditIntegratorLoop implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditIntegrator');
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = false;
  private lastError = '';

  constructor(private readonly integrator: AuditIntegrator) {}

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.tick().finally(() => {
        this.current = null;
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    let next = IDLE_MS;
    try {
      const round = await this.integrator.round();
      if (round && round.integrated > 0) next = 0;
      if (this.lastError) this.logger.log('integrating again');
      this.lastError = '';
    } catch (err) {
      const message = (err as Error).message;
      // One line per distinct problem: a refusal repeats every few seconds until someone acts.
      if (message !== this.lastError) this.logger.error(`audit integration failed: ${message}`);
      this.lastError = message;
      next = RETRY_MS;
    }
    this.schedule(next);
  }
}
