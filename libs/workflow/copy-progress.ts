import type { DataSource } from 'typeorm';
import { Counter, Gauge } from 'prom-client';
import type { CopyProgress } from '#libs/registry/index.js';

/** How far a promotion's copy has got, as the API shows it. */
export interface PromotionProgress extends CopyProgress {
  startedAt: string;
  updatedAt: string;
}

/** The row is written at most this often while a copy runs (and once more when it ends). */
export const PROGRESS_WRITE_INTERVAL_MS = 2_000;

const copyBytes = new Counter({
  name: 'promoter_copy_bytes_done_total',
  help: 'Bytes made present in target registries by promotion copies, as they stream (mounted or already present blobs count whole)',
});
const copyBlobs = new Counter({
  name: 'promoter_copy_blobs_done_total',
  help: 'Blobs made present in target registries by promotion copies (streamed, mounted, or already there)',
});
const activeCopies = new Gauge({ name: 'promoter_copies_active', help: 'Promotion copies running in this process' });
const remainingBytes = new Gauge({
  name: 'promoter_copy_bytes_remaining',
  help: 'Bytes known still to copy, over the copies running in this process (grows as manifests are read)',
});

export function progressFromRow(row: Record<string, unknown> | null): PromotionProgress | null {
  if (!row) return null;
  const iso = (v: unknown) => new Date(v as string).toISOString();
  return {
    blobsDone: Number(row.blobs_done),
    blobsTotal: Number(row.blobs_total),
    bytesDone: Number(row.bytes_done),
    bytesTotal: Number(row.bytes_total),
    startedAt: iso(row.started_at),
    updatedAt: iso(row.updated_at),
  };
}

/**
 * Follows one copy: metrics on every change (in memory), the database row at most every
 * PROGRESS_WRITE_INTERVAL_MS, one write at a time, so a copy of many small blobs costs a handful
 * of small UPDATEs and never waits on them.
 */
export class ProgressRecorder {
  private last: CopyProgress = { blobsDone: 0, blobsTotal: 0, bytesDone: 0, bytesTotal: 0 };
  private written = 0;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = new Date();

  constructor(
    private readonly dataSource: DataSource,
    private readonly promotionId: string,
    private readonly now: () => number = Date.now,
  ) {
    activeCopies.inc();
  }

  /** A copy starts over from nothing: the row of an earlier attempt is replaced. */
  async start(): Promise<void> {
    await this.write().catch(() => undefined);
  }

  update(progress: CopyProgress): void {
    const blobs = progress.blobsDone - this.last.blobsDone;
    if (blobs > 0) copyBlobs.inc(blobs);
    // A retried blob streams again from its start: the counter does not go back, it counts again.
    const bytes = progress.bytesDone - this.last.bytesDone;
    if (bytes > 0) copyBytes.inc(bytes);
    remainingBytes.inc(progress.bytesTotal - progress.bytesDone - (this.last.bytesTotal - this.last.bytesDone));
    this.last = progress;
    this.dirty = true;
    if (this.writing || this.timer) return;
    const wait = this.written + PROGRESS_WRITE_INTERVAL_MS - this.now();
    if (wait <= 0) this.flushSoon();
    else this.timer = setTimeout(() => this.flushSoon(), wait).unref();
  }

  /** The copy ended (either way): the last numbers are written and the gauges let go. */
  async finish(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    activeCopies.dec();
    remainingBytes.dec(this.last.bytesTotal - this.last.bytesDone);
    await this.writing;
    if (this.dirty) await this.write().catch(() => undefined);
  }

  private flushSoon(): void {
    this.timer = null;
    this.writing = this.write()
      // Progress is advisory: a write that fails must not fail the copy; the next one may succeed.
      .catch(() => undefined)
      .finally(() => {
        this.writing = null;
        if (this.dirty) this.update(this.last);
      });
  }

  private async write(): Promise<void> {
    this.dirty = false;
    this.written = this.now();
    const p = this.last;
    await this.dataSource.query(
      `INSERT INTO promotion_progress (promotion_id, blobs_done, blobs_total, bytes_done, bytes_total, started_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (promotion_id) DO UPDATE SET blobs_done = $2, blobs_total = $3, bytes_done = $4, bytes_total = $5, started_at = $6, updated_at = now()`,
      [this.promotionId, p.blobsDone, p.blobsTotal, p.bytesDone, p.bytesTotal, this.startedAt],
    );
  }
}
