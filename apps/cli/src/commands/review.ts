import { InvalidArgumentError, type Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import { neededSummary } from '../format.js';
import { evidenceDigestOption, evidenceToDecideOn } from './decision.js';
import type { Promotion } from '../types.js';

function verdict(value: string): 'approve' | 'reject' {
  if (value !== 'approve' && value !== 'reject') throw new InvalidArgumentError("expected 'approve' or 'reject'");
  return value;
}

/** `promoctl review ID --kind security --verdict approve`: a review the target environment demands. */
export function registerReview(program: Command, env: CommandEnv): void {
  program
    .command('review')
    .description('record a review a promotion needs (e.g. the security review prod demands)')
    .argument('<id>', 'promotion id')
    .requiredOption('--kind <kind>', "the review, one of the target environment's `reviews` (e.g. security)")
    .requiredOption('--verdict <verdict>', 'approve or reject (a rejecting review rejects the promotion)', verdict)
    .option('--notes <text>', 'notes recorded with the review')
    .option(
      '--evidence-digest <digest>',
      'the evidence digest you looked at (promoctl status); refused if the evidence has changed since',
      evidenceDigestOption,
    )
    .action(
      async (id: string, opts: { kind: string; verdict: 'approve' | 'reject'; notes?: string; evidenceDigest?: string }, cmd: Command) => {
        const ctx = contextFor(cmd, env.io);
        const evidenceDigest = await evidenceToDecideOn(ctx, id, opts.evidenceDigest);
        const payload = {
          kind: opts.kind,
          verdict: opts.verdict,
          ...(opts.notes === undefined ? {} : { notes: opts.notes }),
          ...(evidenceDigest ? { evidenceDigest } : {}),
        };
        const { body } = await ctx.client.post<Promotion>(`/promotions/${encodeURIComponent(id)}/reviews`, payload);
        if (ctx.json) {
          ctx.printJson(body);
        } else {
          ctx.out(
            `${opts.verdict === 'approve' ? 'approved' : 'rejected'} the ${opts.kind} review of promotion ${body.id}; status: ${body.status}`,
          );
          ctx.out(`still needed: ${neededSummary(body)}`);
        }
        env.done(0);
      },
    );
}
