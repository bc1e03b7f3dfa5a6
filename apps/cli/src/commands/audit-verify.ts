import { createReadStream, openSync, readFileSync, readSync, closeSync, fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  EMPTY_ROOT,
  exportCheckpoint,
  ExportVerifier,
  openCheckpoint,
  verifyConsistency,
  type Checkpoint,
  type NoteVerifier,
} from '#libs/tlog/index.js';
import { CliError, contextFor, type CommandEnv, type Ctx } from '../context.js';
import type { AuditVerification } from '../types.js';
import { latestCheckpoint, loadVerifier, originOf, type CheckpointView } from './audit.js';

interface Options {
  checkpoint?: string;
  export?: string;
  key?: string;
}

export function registerAuditVerify(parent: Command, env: CommandEnv): void {
  parent
    .command('verify')
    .description(
      'verify the audit log: on the service (default); that it still extends a checkpoint you saved (--checkpoint FILE); or an export file offline (--export FILE --key VKEY)',
    )
    .option('--checkpoint <file>', 'a signed checkpoint saved earlier (promoctl audit checkpoint --save)')
    .option('--export <file>', 'an export (promoctl audit export), verified with no network access')
    .option('--key <vkey|file>', 'the audit key: verifier key string, or a file with it or with the PEM public key')
    .action(async (opts: Options, cmd: Command) => {
      if (opts.export) return env.done(await verifyExport(opts, env));
      const ctx = contextFor(cmd, env.io);
      if (opts.checkpoint) return env.done(await verifyAgainstCheckpoint(opts.checkpoint, opts.key, ctx));
      const { body } = await ctx.client.get<AuditVerification>('/audit/verify');
      if (ctx.json) {
        ctx.printJson(body);
      } else if (body.ok) {
        const against = body.checkpoint ? `, matches the signed checkpoint at size ${body.checkpoint.size}` : ', no signed checkpoint yet';
        ctx.out(
          `audit log intact: ${body.events} events, root ${body.head ?? '(empty)'}${against}${body.pending ? ` (${body.pending} pending)` : ''}`,
        );
      } else if (body.brokenAt) {
        const b = body.brokenAt;
        const where =
          b.seq !== null
            ? `at seq ${b.seq} (event ${b.id}, leaf ${b.index})`
            : b.size !== null
              ? `at tree size ${b.size}`
              : b.index !== null
                ? `at leaf ${b.index}`
                : '';
        ctx.out(`audit log BROKEN ${where}: ${b.reason}`);
      } else {
        ctx.out('audit log BROKEN (no location reported)');
      }
      env.done(body.ok ? 0 : 1);
    });
}

const b64 = (s: string) => Buffer.from(s, 'base64');

/**
 * The saved checkpoint must be a prefix of the service's current tree: a consistency proof from it
 * to the latest signed checkpoint. On divergence, the service's signed checkpoints narrow down
 * where: the first one whose root the current tree no longer gives is the first differing size.
 */
async function verifyAgainstCheckpoint(file: string, keyArg: string | undefined, ctx: Ctx): Promise<number> {
  const note = readFileSync(file, 'utf8');
  let verifier: NoteVerifier;
  if (keyArg) verifier = loadVerifier(keyArg, originOf(note));
  else {
    verifier = loadVerifier((await ctx.client.get<{ vkey: string }>('/audit/key')).body.vkey, null);
    ctx.err('warning: no --key given: the key was taken from the service itself; pass the key you hold for an independent check');
  }
  let saved: Checkpoint;
  try {
    saved = openCheckpoint(note, verifier);
  } catch (err) {
    throw new CliError(`error: ${file}: ${(err as Error).message}`, 1);
  }
  const latestView = await latestCheckpoint(ctx);
  let latest: Checkpoint;
  try {
    latest = openCheckpoint(latestView.note, verifier, saved.origin);
  } catch (err) {
    ctx.out(`audit log DIVERGES: the service's latest checkpoint is not signed by the audit key: ${(err as Error).message}`);
    return 1;
  }
  const report = (ok: boolean, message: string, extra: Record<string, unknown> = {}) => {
    if (ctx.json)
      ctx.printJson({
        ok,
        checkpoint: { size: saved.size, rootHash: saved.rootHash.toString('base64') },
        latest: { size: latest.size, rootHash: latest.rootHash.toString('base64') },
        message,
        ...extra,
      });
    else ctx.out(message);
    return ok ? 0 : 1;
  };
  if (latest.size < saved.size) {
    return report(
      false,
      `audit log DIVERGES: the service's latest checkpoint has ${latest.size} leaves, fewer than the ${saved.size} of ${file}: first differing size ${latest.size + 1}`,
      { firstDifferingSize: latest.size + 1 },
    );
  }
  const { body: proof } = await ctx.client.get<{ hashes: string[] }>(`/audit/proofs/consistency?from=${saved.size}&to=${latest.size}`);
  if (verifyConsistency(saved.size, latest.size, saved.size === 0 ? EMPTY_ROOT : saved.rootHash, latest.rootHash, proof.hashes.map(b64))) {
    return report(
      true,
      `audit log consistent: the checkpoint at size ${saved.size} is a prefix of the service's log at size ${latest.size}`,
    );
  }
  const first = await firstDifferingSize(ctx, verifier, saved);
  return report(
    false,
    `audit log DIVERGES from ${file}: the service's log no longer extends the checkpoint at size ${saved.size}; first differing size ${first}`,
    { firstDifferingSize: first },
  );
}

/** Binary search over the genuine signed roots (the service's checkpoints and ours) for the first the current tree contradicts. */
async function firstDifferingSize(ctx: Ctx, verifier: NoteVerifier, saved: Checkpoint): Promise<number> {
  const signed: { size: number; root: Buffer }[] = [{ size: saved.size, root: saved.rootHash }];
  let before: number | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const { body }: { body: { items: CheckpointView[]; nextBefore: number | null } } = await ctx.client.get(
      `/audit/checkpoints?limit=500&before=${before ?? saved.size}`,
    );
    for (const item of body.items) {
      try {
        const cp = openCheckpoint(item.note, verifier, saved.origin);
        if (cp.size > 0) signed.push({ size: cp.size, root: cp.rootHash });
      } catch {
        // A stored checkpoint without a valid signature says nothing about history.
      }
    }
    if (body.nextBefore === null) break;
    before = body.nextBefore;
  }
  signed.sort((a, b) => a.size - b.size);
  const rootNow = async (size: number) =>
    b64((await ctx.client.get<{ toRoot: string }>(`/audit/proofs/consistency?from=${size}&to=${size}`)).body.toRoot);
  let lo = 0;
  let hi = signed.length - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await rootNow(signed[mid]!.size)).equals(signed[mid]!.root)) lo = mid + 1;
    else hi = mid;
  }
  return signed[lo]!.size;
}

/** The last non-empty line of a file, read from its end (the export may be far larger than memory). */
function lastLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.at(-1) ?? '';
  } finally {
    closeSync(fd);
  }
}

async function verifyExport(opts: Options, env: CommandEnv): Promise<number> {
  const out = (s: string) => env.io.stdout(`${s}\n`);
  if (!opts.key) throw new CliError('error: --export needs --key (the audit key you hold: promoctl audit key, or its PEM public key)');
  const file = opts.export!;
  const tail = lastLine(file);
  const verifier = loadVerifier(
    opts.key,
    (() => {
      try {
        return originOf((JSON.parse(tail) as { checkpoint: string }).checkpoint);
      } catch {
        return null;
      }
    })(),
  );
  let opened;
  try {
    opened = exportCheckpoint(tail, verifier);
  } catch (err) {
    out(`export INVALID: ${(err as Error).message}`);
    return 1;
  }
  const checker = new ExportVerifier(opened.checkpoint);
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  let pending: string | null = null;
  // Every line but the last (the checkpoint) is an event.
  for await (const line of lines) {
    if (line.trim() === '') continue;
    if (pending !== null && !checker.line(pending, lineNo)) break;
    pending = line;
    lineNo += 1;
  }
  const report = checker.finish(lineNo);
  if (report.ok) {
    out(
      `export verified: ${report.events} events ${report.complete ? 'rebuild' : 'are proved included in'} the checkpoint of ${opened.checkpoint.origin} at size ${opened.checkpoint.size}, root ${opened.checkpoint.rootHash.toString('base64')}`,
    );
    return 0;
  }
  const b = report.brokenAt!;
  out(`export INVALID at line ${b.line}${b.index !== null ? ` (leaf ${b.index})` : ''}: ${b.reason}`);
  return 1;
}
