import { InvalidArgumentError, type Command } from 'commander';
import { CliError, contextFor, type CommandEnv } from '../context.js';
import { table } from '../format.js';
import type { Page, PromotionSummary } from '../types.js';

interface ListOptions {
  status?: string;
  target?: string;
  app?: string;
  image?: string;
  requestedBy?: string;
  mine?: boolean;
  awaitingMe?: boolean;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

function limit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500');
  return n;
}

/** `promoctl list`: promotions, newest first, with the API's filters. */
export function registerList(program: Command, env: CommandEnv): void {
  program
    .command('list')
    .description('list promotions, newest first')
    .option('--status <status>', 'one status, or several separated by commas (e.g. awaiting_approval,blocked)')
    .option('--target <env>', 'target environment')
    .option('--app <app>', 'application name')
    .option('--image <digest>', 'a digest (sha256:…) or registry/repository@sha256:…')
    .option('--requested-by <name>', "a requester's name (or principal id)")
    .option('--mine', 'only promotions I requested')
    .option('--awaiting-me', 'only promotions awaiting an approval or review I may still give')
    .option('--from <time>', 'created at or after (ISO 8601, e.g. 2026-11-24T00:00:00Z)')
    .option('--to <time>', 'created before (ISO 8601)')
    .option('--limit <n>', 'at most this many (1–500)', limit, 50)
    .option('--cursor <cursor>', 'continue after a previous page (its "more:" line)')
    .action(async (opts: ListOptions, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      if (opts.mine && opts.requestedBy !== undefined) throw new CliError('error: give --mine or --requested-by, not both');
      const query = new URLSearchParams();
      const set = (key: string, value: string | undefined) => value !== undefined && query.set(key, value);
      set('status', opts.status);
      set('target', opts.target);
      set('app', opts.app);
      set('image', opts.image);
      set('requestedBy', opts.mine ? 'me' : opts.requestedBy);
      set('awaitingDecisionBy', opts.awaitingMe ? 'me' : undefined);
      set('from', opts.from);
      set('to', opts.to);
      set('limit', String(opts.limit));
      set('cursor', opts.cursor);
      const { body } = await ctx.client.get<Page<PromotionSummary>>(`/promotions?${query}`);
      if (ctx.json) {
        ctx.printJson(body);
      } else if (body.items.length === 0) {
        ctx.out('no promotions match');
      } else {
        const rows = body.items.map((p) => [p.id, p.status, p.app ?? '', `${p.source} → ${p.target}`, p.requestedBy.name, p.createdAt]);
        for (const line of table([['ID', 'STATUS', 'APP', 'ROUTE', 'REQUESTER', 'CREATED'], ...rows], '')) ctx.out(line);
        if (body.nextCursor) ctx.out(`more: add --cursor ${body.nextCursor}`);
      }
      env.done(0);
    });
}
