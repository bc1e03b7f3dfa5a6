import { setTimeout as sleep } from 'node:timers/promises';
import { Option } from 'commander';
import { ApiError, ConnectionError } from './api-client.js';
import { durationOption, formatDuration, type Ctx } from './context.js';
import { isStuck, isTerminal, lastErrorLine } from './format.js';
import { pendingReasons, progressLine, reasons } from './reasons.js';
import type { Promotion } from './types.js';

export interface WaitOptions {
  timeout: number;
  interval: number;
}

/** Backoff while the service is away: from the poll interval, doubling, at most this. */
const MAX_BACKOFF_MS = 30_000;
/** A copy's progress is printed at most this often (it changes with every blob). */
const PROGRESS_EVERY_MS = 10_000;

const finished = (p: Promotion) => isTerminal(p.status) || isStuck(p.status);

/** A service that restarts, or a proxy in front of it that answers 5xx meanwhile, is waited out. */
function transient(err: unknown): boolean {
  return err instanceof ConnectionError || (err instanceof ApiError && (err.status >= 500 || err.status === 429));
}

/**
 * Polls a promotion until it is promoted, stops (blocked, failed) or ends, or the timeout passes;
 * prints each status change, the copy's progress, and at the end why it stopped where it did.
 * Exit code: 0 promoted, 1 anything else. The service going away is not the promotion failing:
 * connection errors and 5xx are retried with backoff until the timeout.
 */
export async function waitFor(ctx: Ctx, initial: Promotion | string, opts: WaitOptions): Promise<number> {
  const started = Date.now();
  const deadline = started + opts.timeout;
  const stamp = () => `[${formatDuration(Date.now() - started)}]`;
  const id = typeof initial === 'string' ? initial : initial.id;
  // `promoctl wait ID` starts with nothing known, and asks at once.
  let current: Promotion | null = typeof initial === 'string' ? null : initial;
  let outage: string | null = null;
  let failures = 0;
  let progressShown = { at: 0, text: '' };

  const showProgress = (p: Promotion) => {
    // Nothing known yet (the manifests are still being read) is not worth a line.
    if (ctx.json || p.status !== 'promoting' || !p.progress || p.progress.blobsTotal === 0) return;
    const text = progressLine(p.progress);
    if (text === progressShown.text || Date.now() - progressShown.at < PROGRESS_EVERY_MS) return;
    progressShown = { at: Date.now(), text };
    ctx.out(`${stamp()} promoting: ${text}`);
  };

  while (current === null || !finished(current)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return timedOut(ctx, id, current, opts, outage);
    if (current !== null || failures > 0) {
      const pause = failures === 0 ? opts.interval : Math.min(opts.interval * 2 ** failures, MAX_BACKOFF_MS);
      await sleep(Math.min(pause, remaining));
    }
    let body: Promotion;
    try {
      ({ body } = await ctx.client.get<Promotion>(`/promotions/${encodeURIComponent(id)}`));
    } catch (err) {
      if (!transient(err)) throw err;
      failures++;
      if (outage === null) ctx.err(`${stamp()} the promoter is not answering (${(err as Error).message}); retrying until the timeout`);
      outage = (err as Error).message;
      continue;
    }
    if (outage !== null) ctx.err(`${stamp()} the promoter answers again`);
    outage = null;
    failures = 0;
    if (!ctx.json) {
      if (current === null) ctx.out(`promotion ${body.id}: ${body.status}`);
      else if (body.status !== current.status) ctx.out(`${stamp()} ${body.status}`);
    }
    // An error the service is retrying (a copy attempt, a gate) is news while the promotion still moves.
    const error = body.lastError;
    if (current !== null && error && error.at !== current.lastError?.at && !finished(body))
      ctx.err(`${stamp()} error: ${lastErrorLine(error)}`);
    current = body;
    showProgress(current);
  }
  if (ctx.json) ctx.printJson(current);
  if (current.status === 'promoted') {
    if (!ctx.json) ctx.out(`promotion ${current.id} promoted ${current.image} to ${current.target}`);
    return 0;
  }
  ctx.err(`error: promotion ${current.id} ended ${current.status}, not promoted`);
  for (const line of reasons(current)) ctx.err(`  ${line}`);
  return 1;
}

function timedOut(ctx: Ctx, id: string, current: Promotion | null, opts: WaitOptions, outage: string | null): number {
  if (ctx.json && current) ctx.printJson(current);
  ctx.err(
    `error: timed out after ${formatDuration(opts.timeout)} waiting for promotion ${id} (last status: ${current?.status ?? 'unknown'})`,
  );
  if (outage !== null) ctx.err(`  the promoter was not answering at the end (${outage}); the status above may be out of date`);
  if (current) for (const line of pendingReasons(current)) ctx.err(`  ${line}`);
  ctx.err(`  to keep waiting: promoctl wait ${id}`);
  return 1;
}

/** `--timeout` and `--interval`, the same for `promote --wait` and `wait`. */
export function waitOptions(): Option[] {
  return [
    new Option('--timeout <duration>', 'how long to wait').argParser(durationOption).default(30 * 60_000, '30m'),
    new Option('--interval <duration>', 'poll interval').argParser(durationOption).default(2_000, '2s'),
  ];
}
