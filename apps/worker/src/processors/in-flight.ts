import { Injectable } from '@nestjs/common';

interface Work {
  what: string;
  since: number;
}

/**
 * The jobs this process is running now, so that a stop can say what it waits for (a copy of a
 * large image may take minutes; a person pressing Ctrl-C should know which and for how long).
 */
@Injectable()
export class InFlight {
  private readonly running = new Set<Work>();

  /** Runs `work`, listed as `what` while it runs. */
  async track<T>(what: string, work: () => Promise<T>): Promise<T> {
    const entry = { what, since: Date.now() };
    this.running.add(entry);
    try {
      return await work();
    } finally {
      this.running.delete(entry);
    }
  }

  /** What runs now, oldest first, each with how long it has been running. */
  describe(now = Date.now()): string[] {
    return [...this.running].sort((a, b) => a.since - b.since).map((w) => `${w.what} (running ${Math.round((now - w.since) / 1000)} s)`);
  }
}
