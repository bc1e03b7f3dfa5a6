import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { noteVerifier, parseCheckpoint, parseVkey, type NoteVerifier } from '#libs/tlog/index.js';
import { CliError, contextFor, type CommandEnv } from '../context.js';

export interface CheckpointView {
  size: number;
  rootHash: string;
  note: string;
  createdAt: string;
}

interface LeafPage {
  size: number;
  items: Array<Record<string, unknown>>;
  next: number | null;
}

/**
 * The audit key from --key: a verifier key string (`name+hash+key`), or a file holding one or an
 * Ed25519 PEM public key (named after the checkpoint's origin, as the service names it).
 */
export function loadVerifier(arg: string, origin: string | null): NoteVerifier {
  const text = existsSync(arg) ? readFileSync(arg, 'utf8').trim() : arg.trim();
  if (text.includes('BEGIN PUBLIC KEY')) {
    if (!origin)
      throw new CliError('error: a PEM key needs the checkpoint origin to name it; pass the verifier key (promoctl audit key) instead');
    try {
      return noteVerifier(origin, createPublicKey(text));
    } catch (err) {
      throw new CliError(`error: --key: ${(err as Error).message}`);
    }
  }
  try {
    return parseVkey(text);
  } catch (err) {
    throw new CliError(`error: --key: ${(err as Error).message}`);
  }
}

/** The origin line of a signed checkpoint, read before its signature is checked (to name a PEM key). */
export function originOf(note: string): string | null {
  try {
    return parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).origin;
  } catch {
    return null;
  }
}

export async function latestCheckpoint(ctx: ReturnType<typeof contextFor>): Promise<CheckpointView> {
  const { body } = await ctx.client.get<{ items: CheckpointView[] }>('/audit/checkpoints?limit=1');
  const latest = body.items[0];
  if (!latest)
    throw new CliError('error: the service has signed no checkpoint yet (an admin can make one: POST /api/v1/audit/checkpoints)', 1);
  return latest;
}

const instant = (value: string) => {
  if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new InvalidArgumentError('must be an ISO 8601 date-time, e.g. 2026-11-24T10:00:00Z');
  return new Date(value).toISOString();
};
const whole = (value: string) => {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError('must be a non-negative whole number');
  return Number(value);
};

export function registerAudit(audit: Command, env: CommandEnv): void {
  audit
    .command('key')
    .description('print the audit key as a C2SP signed-note verifier key (name+hash+key)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.get<{ vkey: string }>('/audit/key');
      if (ctx.json) ctx.printJson(body);
      else ctx.out(body.vkey);
    });

  audit
    .command('checkpoint')
    .description("fetch the log's latest signed checkpoint (a C2SP signed note)")
    .option('--save <file>', 'write the signed note to this file, for your records')
    .action(async (opts: { save?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const latest = await latestCheckpoint(ctx);
      if (opts.save) {
        writeFileSync(opts.save, latest.note);
        ctx.err(`saved the checkpoint at size ${latest.size} to ${opts.save}`);
      }
      if (ctx.json) ctx.printJson(latest);
      else if (!opts.save) env.io.stdout(latest.note);
    });

  audit
    .command('export')
    .description(
      'write the audit log as JSON lines (index and leaf beside each event, the signed checkpoint last); a partial export carries inclusion proofs',
    )
    .option('--from <time>', 'only events at or after this time', instant)
    .option('--to <time>', 'only events before this time', instant)
    .option('--after-seq <seq>', 'resume after the event with this seq (the last one a broken export wrote)', whole)
    .action(async (opts: { from?: string; to?: string; afterSeq?: number }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const checkpoint = await latestCheckpoint(ctx);
      const partial = opts.from !== undefined || opts.to !== undefined || opts.afterSeq !== undefined;
      const query = new URLSearchParams({ size: String(checkpoint.size), proofs: String(partial), limit: partial ? '200' : '1000' });
      if (opts.from) query.set('from', opts.from);
      if (opts.to) query.set('to', opts.to);
      if (opts.afterSeq !== undefined) query.set('afterSeq', String(opts.afterSeq));
      // Page by page: memory holds one page whatever the size of the log.
      for (let start: number | null = 0; start !== null;) {
        query.set('start', String(start));
        const { body }: { body: LeafPage } = await ctx.client.get<LeafPage>(`/audit/leaves?${query.toString()}`);
        if (body.items.length > 0) env.io.stdout(body.items.map((item) => JSON.stringify(item)).join('\n') + '\n');
        start = body.next;
        query.delete('afterSeq');
      }
      env.io.stdout(JSON.stringify({ checkpoint: checkpoint.note }) + '\n');
    });
}
