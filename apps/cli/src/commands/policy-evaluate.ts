import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import { table } from '../format.js';

interface Evaluation {
  image: string;
  target: string;
  status: 'passed' | 'failed';
  summary: string;
  rules: { name: string; severity: string; outcome: string; message: string | null; platform: string }[];
}

/** `promoctl policy evaluate`: the target's policy rules on an image, as the gate would run them; nothing is recorded. */
export function registerPolicyEvaluate(program: Command, env: CommandEnv): void {
  program
    .command('policy')
    .description('dry runs of the policy gate')
    .command('evaluate')
    .description(
      "run an environment's policy rules on an image, as its policy gate would (no promotion, nothing recorded); exit 1 when they deny it",
    )
    .requiredOption('--image <image>', 'image by digest or tag, in one of the pipeline registries')
    .requiredOption('--to <env>', 'the environment whose policy applies')
    .option('--reason <text>', 'what the rules see as promotion.reason')
    .action(async (opts: { image: string; to: string; reason?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const request = { image: opts.image, target: opts.to, ...(opts.reason === undefined ? {} : { reason: opts.reason }) };
      const { body } = await ctx.client.post<Evaluation>('/policy/evaluate', request);
      if (ctx.json) ctx.printJson(body);
      else {
        ctx.out(`policy of ${body.target} on ${body.image}: ${body.status}: ${body.summary}`);
        for (const line of table(body.rules.map((r) => [r.name, r.platform, r.severity, r.outcome, r.message ?? '']))) ctx.out(line);
      }
      env.done(body.status === 'passed' ? 0 : 1);
    });
}
