import type { Command } from 'commander';
import { ApiError } from '../api-client.js';
import { ciToken, DEFAULT_AUDIENCE } from '../ci-token.js';
import { contextFor, type CommandEnv, type Ctx } from '../context.js';
import { imageLine, route } from '../format.js';
import type { Promotion } from '../types.js';
import { waitFor, waitOptions } from '../wait.js';

interface PromoteOptions {
  image: string;
  to: string;
  reason?: string;
  idempotencyKey?: string;
  wait?: boolean;
  timeout: number;
  interval: number;
  oidc?: string;
  audience?: string;
}

export function registerPromote(program: Command, env: CommandEnv): void {
  const cmd = program
    .command('promote')
    .description('request the promotion of an image to an environment')
    .requiredOption('--image <image>', 'image reference, by digest (registry/dev/app@sha256:…) or by tag (registry/dev/app:1.2.3)')
    .requiredOption('--to <env>', 'target environment')
    .option('--reason <text>', 'why this promotion is requested')
    .option('--idempotency-key <key>', 'replaying the same key returns the original promotion')
    .option('--wait', 'poll until the promotion finishes, is blocked, or the timeout passes')
    .option(
      '--oidc <source>',
      "authenticate with the CI system's OIDC token instead of a stored one: github, gitlab (PROMOTER_ID_TOKEN) or env:VARIABLE",
    )
    .option('--audience <aud>', 'the audience to ask GitHub for (identity.ci audience)', DEFAULT_AUDIENCE);
  for (const option of waitOptions()) cmd.addOption(option);
  cmd.action(async (opts: PromoteOptions, cmd: Command) => {
    const bearer = opts.oidc ? await ciToken(opts.oidc, env.io.env, opts.audience) : undefined;
    const ctx = contextFor(cmd, env.io, bearer);
    const headers = opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : undefined;
    const request = { image: opts.image, target: opts.to, ...(opts.reason === undefined ? {} : { reason: opts.reason }) };
    let created;
    try {
      created = await ctx.client.post<Promotion>('/promotions', request, headers);
    } catch (err) {
      hintExisting(ctx, err);
      throw err;
    }
    const { status, body } = created;
    if (!ctx.json || !opts.wait) printRequested(ctx, body, status);
    env.done(opts.wait ? await waitFor(ctx, body, opts) : 0);
  });
}

function printRequested(ctx: Ctx, p: Promotion, httpStatus: number): void {
  if (ctx.json) return ctx.printJson(p);
  ctx.out(`promotion ${p.id} ${httpStatus === 200 ? 'already requested (idempotent replay)' : 'requested'}`);
  ctx.out(`  status: ${p.status}`);
  ctx.out(`  image:  ${imageLine(p)}`);
  ctx.out(`  route:  ${route(p)}`);
}

/** A re-run after a lost connection meets the promotion it made the first time: say how to follow it. */
function hintExisting(ctx: Ctx, err: unknown): void {
  if (!(err instanceof ApiError) || err.status !== 409) return;
  const details = (err.body as { details?: { promotionId?: unknown; status?: unknown } } | null)?.details;
  if (typeof details?.promotionId !== 'string' || details.status === 'promoted') return;
  ctx.err(`hint: to follow the existing promotion: promoctl wait ${details.promotionId}`);
}
