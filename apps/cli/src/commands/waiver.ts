import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '#libs/domain/index.js';
import { CliError, contextFor, type CommandEnv } from '../context.js';
import { table } from '../format.js';
import type { Waiver } from '../types.js';

interface CreateOptions {
  vulnerability: string;
  digest?: string;
  repository?: string;
  all?: boolean;
  justification: string;
  expires: string;
  vex?: string;
  vexJustification?: string;
}

/** `30d`, `12h` (from now) or an ISO 8601 date-time. */
function expiry(value: string): string {
  if (/^\d/.test(value) && !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    try {
      return new Date(Date.now() + parseDuration(value)).toISOString();
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  }
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new InvalidArgumentError(`'${value}' is neither a duration (30d) nor an ISO 8601 date-time`);
  return at.toISOString();
}

function scopeOf(opts: CreateOptions): Waiver['scope'] {
  const given = [opts.digest !== undefined, opts.repository !== undefined, opts.all === true].filter(Boolean).length;
  if (given !== 1) throw new CliError('error: give exactly one scope: --digest, --repository or --all');
  if (opts.digest !== undefined) return { digest: opts.digest };
  if (opts.repository !== undefined) return { repository: opts.repository };
  return { all: true };
}

function scopeText(scope: Waiver['scope']): string {
  if ('digest' in scope) return `digest ${scope.digest}`;
  if ('repository' in scope) return `repository ${scope.repository}`;
  return 'everything';
}

/** `promoctl waiver create|list|revoke`: vulnerability waivers (security reviewers write, every reader reads). */
export function registerWaiver(program: Command, env: CommandEnv): void {
  const waiver = program.command('waiver').description('manage vulnerability waivers');

  waiver
    .command('create')
    .description('waive a vulnerability for a digest, a repository or everything, until a date (a security reviewer)')
    .requiredOption('--vulnerability <id>', 'the advisory id (CVE-…, GHSA-…, DSA-…); aliases match too')
    .option('--digest <digest>', 'scope: this image digest (sha256:…)')
    .option('--repository <repo>', 'scope: this repository (host[:port]/path), promoted from or to')
    .option('--all', 'scope: every image')
    .requiredOption('--justification <text>', 'why (at least 10 characters)')
    .requiredOption('--expires <when>', 'a duration from now (30d) or an ISO 8601 date-time', expiry)
    .option('--vex <status>', 'OpenVEX status: not_affected, affected, fixed, under_investigation')
    .option('--vex-justification <j>', 'OpenVEX justification (with not_affected), e.g. vulnerable_code_not_in_execute_path')
    .action(async (opts: CreateOptions, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      if (opts.vexJustification !== undefined && opts.vex === undefined) throw new CliError('error: --vex-justification needs --vex');
      const body = {
        vulnerabilityId: opts.vulnerability,
        scope: scopeOf(opts),
        justification: opts.justification,
        expiresAt: opts.expires,
        ...(opts.vex === undefined
          ? {}
          : { vex: { status: opts.vex, ...(opts.vexJustification === undefined ? {} : { justification: opts.vexJustification }) } }),
      };
      const { body: created } = await ctx.client.post<Waiver>('/waivers', body);
      if (ctx.json) ctx.printJson(created);
      else ctx.out(`created waiver ${created.id}: ${created.vulnerabilityId} for ${scopeText(created.scope)} until ${created.expiresAt}`);
      env.done(0);
    });

  waiver
    .command('list')
    .description('list waivers, newest first')
    .option('--active', 'only waivers that count now (not revoked, not expired)')
    .option('--inactive', 'only revoked or expired waivers')
    .option('--vulnerability <id>', 'only waivers of this advisory id')
    .action(async (opts: { active?: boolean; inactive?: boolean; vulnerability?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      if (opts.active && opts.inactive) throw new CliError('error: give --active or --inactive, not both');
      const query = new URLSearchParams();
      if (opts.active || opts.inactive) query.set('active', String(opts.active === true));
      if (opts.vulnerability !== undefined) query.set('vulnerabilityId', opts.vulnerability);
      const { body } = await ctx.client.get<Waiver[] | { items: Waiver[] }>(`/waivers${query.size > 0 ? `?${query}` : ''}`);
      const items = Array.isArray(body) ? body : body.items;
      if (ctx.json) ctx.printJson(body);
      else if (items.length === 0) ctx.out('no waivers match');
      else {
        const state = (w: Waiver) => (w.revokedAt ? `revoked by ${w.revokedBy}` : w.active ? 'active' : 'expired');
        const rows = items.map((w) => [w.id, w.vulnerabilityId, scopeText(w.scope), `until ${w.expiresAt}`, state(w), w.createdBy.name]);
        for (const line of table(rows, '')) ctx.out(line);
      }
      env.done(0);
    });

  waiver
    .command('revoke')
    .description('revoke a waiver (a security reviewer); gates evaluated from now on no longer apply it')
    .argument('<id>', 'waiver id (from waiver list)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.request<Waiver>('DELETE', `/waivers/${encodeURIComponent(id)}`);
      if (ctx.json) ctx.printJson(body);
      else ctx.out(`revoked waiver ${body.id} (${body.vulnerabilityId}) at ${body.revokedAt}`);
      env.done(0);
    });
}
