import type { Command } from 'commander';
import { contextFor, type CommandEnv, type Ctx } from '../context.js';
import { imageLine, isFailure, lastErrorLine, neededSummary, route, table } from '../format.js';
import { progressLine } from '../reasons.js';
import type { Promotion } from '../types.js';

export function registerStatus(program: Command, env: CommandEnv): void {
  program
    .command('status')
    .description('show a promotion: gates, approvals and what is still needed')
    .argument('<id>', 'promotion id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.get<Promotion>(`/promotions/${encodeURIComponent(id)}`);
      if (ctx.json) ctx.printJson(body);
      else printStatus(ctx, body);
      env.done(isFailure(body.status) ? 1 : 0);
    });
}

function printStatus(ctx: Ctx, p: Promotion): void {
  ctx.out(`promotion ${p.id}`);
  ctx.out(`  status:    ${p.status}`);
  ctx.out(`  image:     ${imageLine(p)}`);
  ctx.out(`  route:     ${route(p)}`);
  ctx.out(`  requester: ${p.requestedBy.name} (${p.requestedBy.id}) at ${p.createdAt}`);
  if (p.reason) ctx.out(`  reason:    ${p.reason}`);
  if (p.status === 'promoting' && p.progress && p.progress.blobsTotal > 0)
    ctx.out(`  copy:      ${progressLine(p.progress)} (as of ${p.progress.updatedAt})`);
  if (p.lastError) ctx.out(`  last error: ${lastErrorLine(p.lastError)}`);
  ctx.out('gates:');
  if (p.gates.length === 0) ctx.out('  (none demanded by this environment)');
  for (const line of table(p.gates.map((g) => [g.gate, g.status, g.summary ?? '']))) ctx.out(line);
  if (p.evidenceDigest)
    ctx.out(`evidence: ${p.evidenceDigest} (round ${p.round ?? 1}; promoctl approve --evidence-digest binds a decision to it)`);
  ctx.out('approvals:');
  if (p.approvals.length === 0) ctx.out('  (none)');
  const approvalRows = p.approvals.map((a) => [
    a.approver.name,
    a.decision,
    a.counts ? 'counts' : 'does not count',
    a.comment ? `"${a.comment}"` : '',
  ]);
  for (const line of table(approvalRows)) ctx.out(line);
  if (p.reviews?.length) {
    ctx.out('reviews:');
    const reviewRows = p.reviews.map((r) => [
      r.reviewer.name,
      r.kind,
      r.verdict,
      r.counts ? 'counts' : 'does not count',
      r.notes ? `"${r.notes}"` : '',
    ]);
    for (const line of table(reviewRows)) ctx.out(line);
  }
  ctx.out(`still needed: ${neededSummary(p)}`);
}
