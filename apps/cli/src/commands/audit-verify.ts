import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import type { AuditVerification } from '../types.js';

export function registerAuditVerify(parent: Command, env: CommandEnv): void {
  parent
    .command('verify')
    .description("verify the audit log's Merkle tree against its signed checkpoints (on the service)")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.get<AuditVerification>('/audit/verify');
      if (ctx.json) {
        ctx.printJson(body);
      } else if (body.ok) {
        const against = body.checkpoint ? `, matches the signed checkpoint at size ${body.checkpoint.size}` : ', no signed checkpoint yet';
        ctx.out(`audit log intact: ${body.events} events, root ${body.head ?? '(empty)'}${against}${body.pending ? ` (${body.pending} pending)` : ''}`);
      } else if (body.brokenAt) {
        const b = body.brokenAt;
        const where = b.seq !== null ? `at seq ${b.seq} (event ${b.id}, leaf ${b.index})` : b.size !== null ? `at tree size ${b.size}` : b.index !== null ? `at leaf ${b.index}` : '';
        ctx.out(`audit log BROKEN ${where}: ${b.reason}`);
      } else {
        ctx.out('audit log BROKEN (no location reported)');
      }
      env.done(body.ok ? 0 : 1);
    });
}
