import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import type { Promotion } from '../types.js';

/** Gives up on a promotion (its requester, or a release manager); the reason goes into the audit log. */
export function registerCancel(program: Command, env: CommandEnv): void {
  program
    .command('cancel')
    .description('cancel a promotion that has not started copying (pending, evaluating, awaiting approval, approved, blocked, failed)')
    .argument('<id>', 'promotion id')
    .option('--reason <text>', 'why; recorded in the audit event')
    .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const payload = opts.reason === undefined ? {} : { reason: opts.reason };
      const { body } = await ctx.client.post<Promotion>(`/promotions/${encodeURIComponent(id)}/cancel`, payload);
      if (ctx.json) ctx.printJson(body);
      else ctx.out(`cancelled promotion ${body.id}; status: ${body.status}`);
      env.done(0);
    });
}
