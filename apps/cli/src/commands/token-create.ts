import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '#libs/domain/index.js';
import { CliError, contextFor, type CommandEnv, type Ctx } from '../context.js';
import type { CreatedToken, TokenInfo } from '../types.js';
import { isRole, ROLES } from '#libs/domain/index.js';

function collectRoles(value: string, previous: string[] | undefined): string[] {
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (roles.length === 0) throw new InvalidArgumentError('expected a role');
  for (const role of roles) {
    if (!isRole(role)) throw new InvalidArgumentError(`unknown role '${role}' (one of: ${ROLES.join(', ')})`);
  }
  return [...new Set([...(previous ?? []), ...roles])];
}

/** `--expires 30d` (from now) or an ISO 8601 date-time. */
function expiresOption(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  try {
    const ms = parseDuration(value);
    if (ms <= 0) throw new Error('must be greater than zero');
    return new Date(Date.now() + ms).toISOString();
  } catch (err) {
    throw new InvalidArgumentError(`expected a duration (30d) or a date-time (2027-03-01T00:00:00Z): ${(err as Error).message}`);
  }
}

export function registerTokenCreate(parent: Command, env: CommandEnv): void {
  parent
    .command('create')
    .description('create an API token (the secret is shown only once)')
    .requiredOption('--name <name>', 'token name')
    .requiredOption('--role <role>', `role, repeatable or comma-separated (${ROLES.join(', ')})`, collectRoles)
    .option('--owner <person>', "the person (e-mail) or workload it acts for; default: the token's name")
    .option('--workload', "a service token (kind workload) rather than a person's")
    .option('--expires <when>', 'a duration from now (30d) or a date-time; default identity.tokens.defaultExpiry', expiresOption)
    .action(async (opts: { name: string; role: string[]; owner?: string; workload?: boolean; expires?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const request = {
        name: opts.name,
        roles: opts.role,
        ...(opts.owner ? { owner: opts.owner } : {}),
        ...(opts.workload ? { kind: 'workload' } : {}),
        ...(opts.expires ? { expiresAt: opts.expires } : {}),
      };
      const { body } = await ctx.client.post<CreatedToken>('/tokens', request);
      if (ctx.json) {
        ctx.printJson(body);
      } else {
        ctx.out(`created token '${body.name}' (id ${body.id}, roles: ${body.roles.join(', ')})`);
        ctx.out('this token is shown only once; store it now:');
        ctx.out(body.token);
      }
      env.done(0);
    });
}

export function registerTokenList(parent: Command, env: CommandEnv): void {
  parent
    .command('list')
    .description('list API tokens (never their secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const { body } = await ctx.client.get<{ items: TokenInfo[] }>('/tokens');
      if (ctx.json) {
        ctx.printJson(body);
      } else {
        for (const t of body.items) {
          const state = t.revokedAt ? `revoked ${t.revokedAt} by ${t.revokedBy}` : 'active';
          const life = `owner ${t.owner ?? t.name}  expires ${t.expiresAt ?? 'never'}  last used ${t.lastUsedAt ?? 'never'}`;
          ctx.out(`${t.id}  ${t.name}  ${t.roles.join(',')}  created ${t.createdAt} by ${t.createdBy}  ${life}  ${state}`);
        }
      }
      env.done(0);
    });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerTokenRevoke(parent: Command, env: CommandEnv): void {
  parent
    .command('revoke')
    .description('revoke an API token for good (takes effect within 10 s in every process)')
    .argument('<token>', 'token id or name (from `token list`)')
    .action(async (idOrName: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const id = UUID.test(idOrName) ? idOrName : await idOfName(ctx, idOrName);
      const { body } = await ctx.client.request<TokenInfo>('DELETE', `/tokens/${encodeURIComponent(id)}`);
      if (ctx.json) ctx.printJson(body);
      else ctx.out(`revoked token '${body.name}' (id ${body.id}) at ${body.revokedAt}`);
      env.done(0);
    });
}

/** Names are unique, so a name is as good as an id; the listing is an admin's, like the revocation. */
async function idOfName(ctx: Ctx, name: string): Promise<string> {
  const { body } = await ctx.client.get<{ items: TokenInfo[] }>('/tokens');
  const token = body.items.find((t) => t.name === name);
  if (!token) throw new CliError(`error: no token is named '${name}' (promoctl token list shows them)`);
  return token.id;
}
