import { z } from 'zod';
import { durationText, parseDuration, ROLES } from '#libs/domain/index.js';
import { ConfigError } from './config-error.js';

// `identity:` of the pipeline file: who people and pipelines are. `oidc` signs people in through
// an OpenID provider; `ci` trusts CI systems' OIDC tokens (first matching rule wins); `tokens` and
// `sessions` bound how long credentials live.

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const duration = (fallback: string) => durationText.default(fallback).transform((text) => parseDuration(text));

/** Plain http is allowed only for loopback hosts (a local identity provider in tests or development). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** https anywhere; http only on a loopback address. */
export function secureUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be a URL';
  }
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return null;
  return 'must be an https:// URL (plain http only on a loopback address)';
}

const secureUrl = z.string().superRefine((url, ctx) => {
  const problem = secureUrlProblem(url);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const claimName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a claim name');

const oidcSchema = z.strictObject({
  issuer: secureUrl,
  clientId: z.string().min(1).max(200),
  /** Unset: a public client (PKCE only). */
  clientSecretEnv: envName.optional(),
  /** Where the browser comes back to: this promoter's own public URL (the callback is <publicUrl>/auth/callback). */
  publicUrl: secureUrl,
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'is not a scope')).default(['openid', 'profile', 'email']),
  idClaim: claimName.default('sub'),
  nameClaim: claimName.default('name'),
  emailClaim: claimName.default('email'),
  groupsClaim: claimName.default('groups'),
  /** Role → the groups (or e-mail addresses) that hold it. */
  roles: z.partialRecord(z.enum(ROLES), z.array(z.string().min(1).max(256))).default({}),
  session: z
    .strictObject({
      idleTimeout: duration('1h'),
      absoluteTimeout: duration('12h'),
      /** Roles are re-derived from the provider at most this long after they were last derived. */
      rolesRefreshInterval: duration('15m'),
      /** How long a promoctl session token is good for before promoctl refreshes it. */
      cliTokenLifetime: duration('15m'),
    })
    .prefault({}),
});

const claimValue = z.union([z.string().max(512), z.boolean(), z.number()]).transform((v) => String(v));

const ciRuleSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lowercase letters, digits and dashes'),
  issuer: secureUrl,
  audience: z.string().min(1).max(512),
  /** Every listed claim must match its glob (`*` any run of characters but `/`, `**` any run, `?` one). */
  claims: z.record(claimName, claimValue).default({}),
  /** `{claim}` placeholders; `{claim|last}` is the claim's last `/`-separated part. */
  principal: z.string().min(1).max(256),
  roles: z.array(z.enum(ROLES)).min(1, 'name at least one role'),
  /** Apps it may request (placeholders allowed); `*` for any. */
  apps: z.array(z.string().min(1).max(256)).min(1, 'name at least one app, or "*"'),
  environments: z.array(z.string().min(1).max(64)).min(1, 'name at least one environment, or "*"'),
  /** Clock skew tolerated on exp, nbf and iat. */
  clockSkew: duration('60s'),
  /** A token issued longer ago than this is refused whatever its exp says. */
  maxTokenAge: duration('2h'),
});

export const identitySchema = z.strictObject({
  oidc: oidcSchema.optional(),
  ci: z.array(ciRuleSchema).default([]),
  tokens: z
    .strictObject({
      defaultExpiry: duration('90d'),
      maxExpiry: duration('365d'),
    })
    .prefault({}),
});

export type OidcConfig = z.output<typeof oidcSchema>;
export type CiRuleConfig = z.output<typeof ciRuleSchema>;
export type IdentityConfig = z.output<typeof identitySchema>;

export const DEFAULT_IDENTITY: IdentityConfig = identitySchema.parse({});

/** Cross-checks: rule names unique, environments known, token expiry bounds in order. */
export function identityIssues(identity: IdentityConfig, environments: readonly string[]): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  identity.ci.forEach((rule, i) => {
    if (identity.ci.findIndex((r) => r.name === rule.name) !== i)
      issues.push({ path: `identity.ci[${i}].name`, message: `duplicate rule name '${rule.name}'` });
    rule.environments.forEach((env, j) => {
      if (env !== '*' && !environments.includes(env)) {
        issues.push({
          path: `identity.ci[${i}].environments[${j}]`,
          message: `unknown environment '${env}' (known: ${environments.join(', ')})`,
        });
      }
    });
  });
  if (identity.tokens.defaultExpiry > identity.tokens.maxExpiry) {
    issues.push({ path: 'identity.tokens.defaultExpiry', message: 'must not be longer than maxExpiry' });
  }
  const s = identity.oidc?.session;
  if (s && s.idleTimeout > s.absoluteTimeout)
    issues.push({ path: 'identity.oidc.session.idleTimeout', message: 'must not be longer than absoluteTimeout' });
  return issues;
}

/** The OIDC client secret named by clientSecretEnv, read once at boot; null for a public client. */
export function readOidcSecret(identity: IdentityConfig, env: Record<string, string | undefined>, source: string): string | null {
  const name = identity.oidc?.clientSecretEnv;
  if (!name) return null;
  const value = env[name];
  if (!value)
    throw new ConfigError(source, [{ path: 'identity.oidc.clientSecretEnv', message: `environment variable ${name} is not set` }]);
  return value;
}
