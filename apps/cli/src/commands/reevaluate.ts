import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import type { Promotion } from '../types.js';

/** Runs the gates again (a new round), e.g. after a waiver or a fixed image signature. */
export function registerReevaluate(program: Command, env: CommandEnv): void {
  program
    .command('reevaluate')
    .description('run the gates of a blocked or awaiting promotion again (decisions survive only if the evidence comes out the same)')
    .argument('<id>', 'promotion id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.post<Promotion & { round?: number }>(`/promotions/${encodeURIComponent(id)}/reevaluate`, {});
      if (ctx.json) ctx.printJson(body);
      else {
        ctx.out(`promotion ${body.id} is evaluated again (round ${body.round ?? '?'}); status: ${body.status}`);
        ctx.out(`follow it: promoctl wait ${body.id}`);
      }
      env.done(0);
    });
}
