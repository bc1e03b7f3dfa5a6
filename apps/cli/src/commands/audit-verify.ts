import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import type { AuditVerification } from '../types.js';

export function registerAuditVerify(parent: Command, env: CommandEnv): void {
  parent
    .command('verify')
    .description('verify the hash chain of the audit log')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.get<AuditVerification>('/audit/verify');
      if (ctx.json) {
        ctx.printJson(body);
      } else if (body.ok) {
        ctx.out(`audit chain intact: ${body.events} events, head ${body.head ?? '(empty)'}`);
      } else if (body.brokenAt) {
        const b = body.brokenAt;
        ctx.out(`audit chain BROKEN at seq ${b.seq} (event ${b.id}): ${b.reason}`);
      } else {
        ctx.out('audit chain BROKEN (no location reported)');
      }
      env.done(body.ok ? 0 : 1);
    });
}
