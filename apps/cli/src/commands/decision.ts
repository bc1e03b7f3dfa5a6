import { InvalidArgumentError, type Command } from 'commander';
import { contextFor, type CommandEnv, type Ctx } from '../context.js';
import { neededSummary, table } from '../format.js';
import type { Promotion } from '../types.js';

const EVIDENCE_DIGEST = /^sha256:[0-9a-f]{64}$/;

export function evidenceDigestOption(value: string): string {
  if (!EVIDENCE_DIGEST.test(value))
    throw new InvalidArgumentError('expected sha256: and 64 lowercase hex digits (the evidence digest promoctl status shows)');
  return value;
}

/**
 * The evidence a decision is given on. Given with --evidence-digest: that one (what the person saw
 * in `promoctl status`). Otherwise the promotion's current gates are shown and their digest is sent,
 * so a re-evaluation that lands between showing and sending is refused (409), not silently approved.
 */
export async function evidenceToDecideOn(ctx: Ctx, id: string, given: string | undefined): Promise<string | undefined> {
  if (given) return given;
  const { body } = await ctx.client.get<Promotion>(`/promotions/${encodeURIComponent(id)}`);
  if (!ctx.json) {
    ctx.out(`promotion ${body.id}: ${body.status}, round ${body.round ?? 1}`);
    ctx.out('gates:');
    if (body.gates.length === 0) ctx.out('  (none demanded by this environment)');
    for (const line of table(body.gates.map((g) => [g.gate, g.status, g.summary ?? '']))) ctx.out(line);
    if (body.evidenceDigest) ctx.out(`evidence: ${body.evidenceDigest}`);
  }
  return body.evidenceDigest ?? undefined;
}

export function registerDecision(program: Command, env: CommandEnv, decision: 'approve' | 'reject'): void {
  program
    .command(decision)
    .description(`${decision} a promotion, on the gate evidence it shows first`)
    .argument('<id>', 'promotion id')
    .option('--comment <text>', 'comment recorded with the decision')
    .option(
      '--evidence-digest <digest>',
      'the evidence digest you looked at (promoctl status); refused if the evidence has changed since',
      evidenceDigestOption,
    )
    .action(async (id: string, opts: { comment?: string; evidenceDigest?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const evidenceDigest = await evidenceToDecideOn(ctx, id, opts.evidenceDigest);
      const payload = {
        decision,
        ...(opts.comment === undefined ? {} : { comment: opts.comment }),
        ...(evidenceDigest ? { evidenceDigest } : {}),
      };
      const { body } = await ctx.client.post<Promotion>(`/promotions/${encodeURIComponent(id)}/approvals`, payload);
      if (ctx.json) {
        ctx.printJson(body);
      } else {
        ctx.out(`${decision === 'approve' ? 'approved' : 'rejected'} promotion ${body.id}; status: ${body.status}`);
        ctx.out(`still needed: ${neededSummary(body)}`);
      }
      env.done(0);
    });
}
