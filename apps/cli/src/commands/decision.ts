import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import { neededSummary } from '../format.js';
import type { Promotion } from '../types.js';

export function registerDecision(program: Command, env: CommandEnv, decision: 'approve' | 'reject'): void {
  program
    .command(decision)
    .description(`${decision} a promotion`)
    .argument('<id>', 'promotion id')
    .option('--comment <text>', 'comment recorded with the decision')
    .action(async (id: string, opts: { comment?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const payload = opts.comment === undefined ? { decision } : { decision, comment: opts.comment };
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
