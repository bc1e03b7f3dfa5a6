import { z } from 'zod';
import { ROLES } from '#libs/domain/index.js';
import { ConfigError } from './config-error.js';

// `slack:` and `webhooks:` of the pipeline file: where promotion notifications go, and who may
// approve from Slack. Secrets are named by environment variable and read once at boot.

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

const slackPrincipalSchema = z.strictObject({
  principal: z.string().min(1).max(200),
  roles: z.array(z.enum(ROLES)).default([]),
});

export const slackConfigSchema = z.strictObject({
  botTokenEnv: envName,
  signingSecretEnv: envName,
  apiUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).default('https://slack.com/api/'),
  /** Target environment name → Slack channel id (or name). */
  channels: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** Slack user id (U…/W…), or an e-mail address when lookupByEmail is on → principal and roles. */
  // Keys are checked in notifyIssues: zod reports a refused record key without its message.
  users: z.record(z.string(), slackPrincipalSchema).default({}),
  lookupByEmail: z.boolean().default(false),
});

export const NOTIFY_EVENTS = [
  'promotion.awaiting_approval',
  'promotion.approved',
  'promotion.promoted',
  'promotion.rejected',
  'promotion.blocked',
  'promotion.failed',
  'promotion.expired',
  'promotion.cancelled',
  'approval.approve',
  'approval.reject',
  // Raised by a vulnerability database import, not by a change of the promotion (see docs/slack.md).
  'scan.new_findings',
  // A new signed checkpoint of the audit log (docs/audit.md): copies kept outside the database.
  'audit.checkpoint',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const webhookConfigSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  secretEnv: envName,
  events: z.array(z.enum(NOTIFY_EVENTS)).min(1, 'name at least one event'),
});

export type SlackPrincipalConfig = z.output<typeof slackPrincipalSchema>;
export type SlackConfig = z.output<typeof slackConfigSchema>;
export type WebhookConfig = z.output<typeof webhookConfigSchema>;

/** The secrets the notify settings name, read from the environment at boot. */
export interface NotifySecrets {
  slack: { botToken: string; signingSecret: string } | null;
  /** Webhook secrets, in the order of `webhooks`. */
  webhooks: string[];
}

/** Reads the Slack token, signing secret and webhook secrets; a missing one stops the boot, named. */
export function readNotifySecrets(
  pipeline: { slack: SlackConfig | null; webhooks: WebhookConfig[] },
  env: Record<string, string | undefined>,
  source: string,
): NotifySecrets {
  const wanted: { path: string; name: string }[] = [];
  if (pipeline.slack) {
    wanted.push({ path: 'slack.botTokenEnv', name: pipeline.slack.botTokenEnv });
    wanted.push({ path: 'slack.signingSecretEnv', name: pipeline.slack.signingSecretEnv });
  }
  pipeline.webhooks.forEach((w, i) => wanted.push({ path: `webhooks[${i}].secretEnv`, name: w.secretEnv }));
  const missing = wanted.filter((w) => !env[w.name]);
  if (missing.length > 0) {
    throw new ConfigError(
      source,
      missing.map((m) => ({ path: m.path, message: `environment variable ${m.name} is not set` })),
    );
  }
  return {
    slack: pipeline.slack ? { botToken: env[pipeline.slack.botTokenEnv]!, signingSecret: env[pipeline.slack.signingSecretEnv]! } : null,
    webhooks: pipeline.webhooks.map((w) => env[w.secretEnv]!),
  };
}

/** Cross-checks the schema cannot make: channels keyed by environments that exist, users by id or e-mail. */
export function notifyIssues(slack: SlackConfig | undefined, environments: readonly string[]): { path: string; message: string }[] {
  if (!slack) return [];
  const channels = Object.keys(slack.channels)
    .filter((env) => !environments.includes(env))
    .map((env) => ({ path: `slack.channels.${env}`, message: `unknown environment '${env}' (known: ${environments.join(', ')})` }));
  const users = Object.keys(slack.users)
    .filter((key) => !SLACK_USER_ID.test(key) && !EMAIL.test(key))
    .map((key) => ({ path: `slack.users.${key}`, message: 'must be a Slack user id (U…/W…) or an e-mail address' }));
  return [...channels, ...users];
}
