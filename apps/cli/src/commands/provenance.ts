import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import { route } from '../format.js';
import type { Promotion } from '../types.js';

interface Provenance {
  digest: string;
  environments: string[];
  promotions: (Promotion & { auditEvents?: unknown[] })[];
}

/** `promoctl provenance DIGEST`: where a digest has been, who let it in, on what evidence (an auditor's token). */
export function registerProvenance(program: Command, env: CommandEnv): void {
  program
    .command('provenance')
    .description('where an image digest has been promoted, by whom, on what gates and approvals (needs an auditor token)')
    .argument('<digest>', 'image digest, sha256:<64 hex>')
    .action(async (digest: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.get<Provenance>(`/images/${encodeURIComponent(digest)}/provenance`);
      if (ctx.json) {
        ctx.printJson(body);
        return env.done(0);
      }
      ctx.out(`digest ${body.digest}`);
      ctx.out(`in: ${body.environments.length > 0 ? body.environments.join(', ') : '(no environment yet)'}`);
      if (body.promotions.length === 0) ctx.out('no promotion of this digest');
      for (const p of body.promotions) {
        ctx.out(`promotion ${p.id}  ${route(p)}  ${p.status}`);
        ctx.out(`  requested by ${p.requestedBy.name} at ${p.createdAt}${p.reason ? `: ${p.reason}` : ''}`);
        for (const g of p.gates) ctx.out(`  gate ${g.gate} ${g.status}: ${g.summary ?? ''}`);
        for (const a of p.approvals)
          ctx.out(
            `  ${a.decision} by ${a.approver.name} at ${a.at}${a.counts ? '' : ' (does not count)'}${a.comment ? `: "${a.comment}"` : ''}`,
          );
        for (const r of p.reviews ?? [])
          ctx.out(
            `  ${r.kind} review ${r.verdict} by ${r.reviewer.name} at ${r.at}${r.counts ? '' : ' (does not count)'}${r.notes ? `: "${r.notes}"` : ''}`,
          );
      }
      env.done(0);
    });
}
