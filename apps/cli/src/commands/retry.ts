import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import type { Promotion } from '../types.js';

/** A failed copy, tried again (release managers); the approvals given still stand. */
export function registerRetry(program: Command, env: CommandEnv): void {
  program
    .command('retry')
    .description('try the copy of a failed promotion again')
    .argument('<id>', 'promotion id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.post<Promotion>(`/promotions/${encodeURIComponent(id)}/retry`, {});
      if (ctx.json) ctx.printJson(body);
      else ctx.out(`promotion ${body.id} queued again; status: ${body.status}`);
      env.done(0);
    });
}
