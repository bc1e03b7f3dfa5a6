import { Option, type Command } from 'commander';
import { contextFor, durationOption, formatDuration, type CommandEnv, type Ctx } from '../context.js';
import { imageLine, isStuck, isTerminal, route } from '../format.js';
import type { Promotion } from '../types.js';

interface PromoteOptions {
  image: string;
  to: string;
  reason?: string;
  idempotencyKey?: string;
  wait?: boolean;
  timeout: number;
  interval: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function registerPromote(program: Command, env: CommandEnv): void {
  program
    .command('promote')
    .description('request the promotion of an image to an environment')
    .requiredOption('--image <image>', 'image reference, by digest (registry/dev/app@sha256:…) or by tag (registry/dev/app:1.2.3)')
    .requiredOption('--to <env>', 'target environment')
    .option('--reason <text>', 'why this promotion is requested')
    .option('--idempotency-key <key>', 'replaying the same key returns the original promotion')
    .option('--wait', 'poll until the promotion finishes, is blocked, or the timeout passes')
    .addOption(new Option('--timeout <duration>', 'how long --wait waits').argParser(durationOption).default(30 * 60_000, '30m'))
    .addOption(new Option('--interval <duration>', 'poll interval for --wait').argParser(durationOption).default(2_000, '2s'))
    .action(async (opts: PromoteOptions, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const headers = opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : undefined;
      const request = { image: opts.image, target: opts.to, ...(opts.reason === undefined ? {} : { reason: opts.reason }) };
      const { status, body } = await ctx.client.post<Promotion>('/promotions', request, headers);
      if (!ctx.json || !opts.wait) printRequested(ctx, body, status);
      env.done(opts.wait ? await waitFor(ctx, body, opts) : 0);
    });
}

function printRequested(ctx: Ctx, p: Promotion, httpStatus: number): void {
  if (ctx.json) return ctx.printJson(p);
  ctx.out(`promotion ${p.id} ${httpStatus === 200 ? 'already requested (idempotent replay)' : 'requested'}`);
  ctx.out(`  status: ${p.status}`);
  ctx.out(`  image:  ${imageLine(p)}`);
  ctx.out(`  route:  ${route(p)}`);
}

async function waitFor(ctx: Ctx, initial: Promotion, opts: PromoteOptions): Promise<number> {
  const started = Date.now();
  const deadline = started + opts.timeout;
  let current = initial;
  const finished = (p: Promotion) => isTerminal(p.status) || isStuck(p.status);
  while (!finished(current)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      if (ctx.json) ctx.printJson(current);
      ctx.err(`error: timed out after ${formatDuration(opts.timeout)} waiting for promotion ${current.id} (last status: ${current.status})`);
      return 1;
    }
    await sleep(Math.min(opts.interval, remaining));
    const { body } = await ctx.client.get<Promotion>(`/promotions/${encodeURIComponent(current.id)}`);
    if (body.status !== current.status && !ctx.json) {
      ctx.out(`[${formatDuration(Date.now() - started)}] ${body.status}`);
    }
    current = body;
  }
  if (ctx.json) ctx.printJson(current);
  if (current.status === 'promoted') {
    if (!ctx.json) ctx.out(`promotion ${current.id} promoted ${current.image} to ${current.target}`);
    return 0;
  }
  ctx.err(`error: promotion ${current.id} ended ${current.status}, not promoted`);
  return 1;
}
