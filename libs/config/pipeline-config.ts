import { homedir } from 'node:os';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { auditConfig, auditIssues, auditSchema, type AuditConfig } from './audit-config.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { limitsConfig, limitsSchema, type LimitsConfig } from './limits-config.js';
import { gateDefaultsSchema } from './gate-deadline.js';
import { DEFAULT_APPROVER_ROLE, durationMs, nameSchema, parseDuration, ROLES } from '#libs/domain/index.js';
import { policyGateSchema, policyTopLevelSchema, resolvePolicies } from './policy-gate.js';
import { notifyIssues, slackConfigSchema, webhookConfigSchema, type SlackConfig, type WebhookConfig } from './notify-config.js';
import { scanGateSchema, scanningConfig, scanningSchema, type ScanningConfig } from './scan-gate.js';
import { signatureGateSchema } from './signature-gate.js';
import { workerConfig, workerConfigSchema, type WorkerConfig } from './worker-config.js';
import { identityIssues, identitySchema, type IdentityConfig } from './identity-config.js';
import { formatPath, zodIssues } from './zod-issues.js';

export type RegistryAuth =
  { type: 'none' } | { type: 'basic'; usernameEnv: string; passwordEnv: string } | { type: 'dockerConfig'; path: string };

export interface RegistryConfig {
  name: string;
  url: string;
  /** host[:port] as it appears in image references. */
  host: string;
  insecure: boolean;
  auth: RegistryAuth;
  rateLimit: number | null;
  /** Hosts (host or host:port) blob downloads may be redirected to besides public https ones. */
  redirects?: string[];
  /** Hosts (host or host:port) besides the registry's own whose bearer token service is trusted with its credentials. */
  tokenRealms?: string[];
}

export const GATE_TYPES = ['signature', 'scan', 'policy'] as const;
export type GateType = (typeof GATE_TYPES)[number];

export interface ApprovalsConfig {
  required: number;
  roles: string[];
  expiresAfterMs: number | null;
  /** How long a promotion may wait for approval before it expires. */
  timeoutMs: number;
}

export interface EnvironmentConfig {
  name: string;
  from: string | null;
  /** The template as written: `<registry name>/<path with {app}>`. */
  repository: string;
  registry: string;
  /** Path template inside the registry, e.g. `staging/{app}`. */
  path: string;
  /** Gate type → its options, in the order written. */
  gates: Partial<Record<GateType, Record<string, unknown>>>;
  /** Gate type → how long one evaluation may take (its `deadline`, else the top-level one); read with gateDeadlineMs. */
  gateDeadlinesMs?: Partial<Record<GateType, number>>;
  approvals: ApprovalsConfig;
  reviews: string[];
  /** Tags set on every image promoted here, besides the tag it was requested by. */
  tags: string[];
  /** Copy the source's signatures, attestations and referrers along with the image. */
  copyAttachments: boolean;
}

export interface SigningConfig {
  key: { path: string; passwordEnv: string | null; passwordFile: string | null };
}

export interface PipelineConfig {
  registries: RegistryConfig[];
  environments: EnvironmentConfig[];
  signing: SigningConfig | null;
  /** Slack messages and interactive approvals (notify-config.ts); null: no Slack. */
  slack: SlackConfig | null;
  webhooks: WebhookConfig[];
  /** Waiver and vulnerability-database settings (`scanning:`), defaults when absent. */
  scanning: ScanningConfig;
  /** Bounds on reading images and other hostile input (`limits:`), defaults when absent. */
  limits: LimitsConfig;
  /** Name of the environment images enter from CI (the one with no `from`). */
  entry: string;
  /** Concurrency and retries of the queue jobs and registry requests (`worker:`), defaults when absent. */
  worker: WorkerConfig;
  /** Single sign-on, CI federation and credential lifetimes (identity-config.ts). */
  identity: IdentityConfig;
  /** The audit log's checkpoint key, cadence and copies (audit-config.ts). */
  audit: AuditConfig;
}

const name = nameSchema;
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const hostName = z
  .string()
  .transform((h) => h.toLowerCase())
  .pipe(
    z
      .string()
      .regex(
        /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/,
        'must be a host or host:port, without a scheme or path',
      ),
  );

const registrySchema = z.strictObject({
  name,
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  auth: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('none') }),
      z.strictObject({ type: z.literal('basic'), usernameEnv: envName, passwordEnv: envName }),
      z.strictObject({ type: z.literal('dockerConfig'), path: z.string().min(1) }),
    ])
    .default({ type: 'none' }),
  rateLimit: z.number().positive().optional(),
  redirects: z.array(hostName).default([]),
  tokenRealms: z.array(hostName).default([]),
});

/** What `{...}` may stand for in an environment's `repository` (expanded in libs/workflow/environment-resolver.ts). */
export const REPOSITORY_PLACEHOLDERS = ['app'] as const;

/**
 * Checked at start-up because the template is expanded only when an image is copied, that is after
 * approval: a mistyped `{application}` would otherwise surface days later as a failed copy.
 */
function repositoryPlaceholderProblem(template: string): string | null {
  const known = REPOSITORY_PLACEHOLDERS.map((p) => `{${p}}`).join(', ');
  const placeholders = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!);
  const unknown = placeholders.filter((p) => !(REPOSITORY_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    return `unknown placeholder ${unknown.map((p) => `{${p}}`).join(', ')} (known: ${known})`;
  }
  if (/[{}]/.test(template.replace(/\{[^{}]*\}/g, ''))) return `has an unmatched '{' or '}' (placeholders: ${known})`;
  // The resolver captures {app} as one named group, so a second one cannot be matched back to an app.
  if (placeholders.length > 1) return `may contain {app} at most once`;
  return null;
}

const environmentSchema = z.strictObject({
  name,
  from: name.optional(),
  repository: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9{}._/-]+$/, 'must be "<registry name>/<path>", e.g. local/staging/{app}')
    .superRefine((template, ctx) => {
      const problem = repositoryPlaceholderProblem(template);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  gates: z
    .strictObject({ signature: signatureGateSchema.optional(), scan: scanGateSchema.optional(), policy: policyGateSchema.optional() })
    .default({}),
  approvals: z
    .strictObject({
      required: z.number().int().min(0).max(50),
      roles: z.array(z.enum(ROLES)).default([DEFAULT_APPROVER_ROLE]),
      expiresAfter: durationMs.optional(),
      timeout: durationMs.optional(),
    })
    .optional(),
  reviews: z.array(name).default([]),
  tags: z.array(z.string().regex(/^[\w][\w.-]{0,127}$/, 'is not a valid tag')).default([]),
  copyAttachments: z.boolean().default(false),
});

const pipelineSchema = z.strictObject({
  registries: z.array(registrySchema).min(1, 'name at least one registry'),
  environments: z.array(environmentSchema).min(1, 'name at least one environment'),
  signing: z
    .strictObject({
      key: z.strictObject({
        path: z.string().min(1),
        passwordEnv: envName.optional(),
        passwordFile: z.string().min(1).optional(),
      }),
    })
    .optional(),
  slack: slackConfigSchema.optional(),
  webhooks: z.array(webhookConfigSchema).default([]),
  scanning: scanningSchema.optional(),
  policy: policyTopLevelSchema.optional(),
  limits: limitsSchema.optional(),
  worker: workerConfigSchema.optional(),
  identity: identitySchema.prefault({}),
  gates: gateDefaultsSchema.default({ deadline: '5m' }),
  audit: auditSchema.optional(),
});

const DEFAULT_TIMEOUT_MS = 7 * 86_400_000;

/** Parses and checks the pipeline file; every problem is reported with the key it concerns. */
export function parsePipeline(text: string, source = 'promoter.yaml'): PipelineConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}` : '';
    throw new ConfigError(source, [{ path: where, message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const parsed = pipelineSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(source, zodIssues(parsed.error));
  const doc = parsed.data;
  const issues: ConfigIssue[] = [];

  const registries: RegistryConfig[] = doc.registries.map((r) => {
    const url = new URL(r.url);
    return {
      name: r.name,
      url: url.origin,
      host: url.host,
      insecure: url.protocol === 'http:',
      auth: r.auth.type === 'dockerConfig' ? { ...r.auth, path: expandHome(r.auth.path) } : r.auth,
      rateLimit: r.rateLimit ?? null,
      redirects: r.redirects,
      tokenRealms: r.tokenRealms,
    };
  });
  duplicates(registries.map((r) => r.name)).forEach((i) =>
    issues.push({ path: formatPath(['registries', i, 'name']), message: `duplicate registry name '${registries[i]!.name}'` }),
  );

  const names = doc.environments.map((e) => e.name);
  duplicates(names).forEach((i) =>
    issues.push({ path: formatPath(['environments', i, 'name']), message: `duplicate environment name '${names[i]}'` }),
  );
  const environments: EnvironmentConfig[] = doc.environments.map((e, i) => {
    const at = (key: string) => formatPath(['environments', i, key]);
    const [registry, ...rest] = e.repository.split('/');
    if (!registries.some((r) => r.name === registry)) {
      issues.push({
        path: at('repository'),
        message: `unknown registry '${registry}' (known: ${registries.map((r) => r.name).join(', ')})`,
      });
    }
    if (e.from !== undefined && !names.includes(e.from)) {
      issues.push({ path: at('from'), message: `unknown environment '${e.from}'` });
    }
    if (e.from === e.name) issues.push({ path: at('from'), message: 'an environment cannot be promoted from itself' });
    const required = e.approvals?.required ?? 0;
    if (required > 0 && (e.approvals?.roles.length ?? 0) === 0) {
      issues.push({ path: at('approvals') + '.roles', message: 'name at least one role that may approve' });
    }
    if (
      e.from === undefined &&
      (Object.keys(e.gates).length > 0 || required > 0 || e.reviews.length > 0 || e.tags.length > 0 || e.copyAttachments)
    ) {
      issues.push({
        path: at('from'),
        message: 'the entry environment receives images from CI and cannot have gates, approvals, reviews, tags or copyAttachments',
      });
    }
    return {
      name: e.name,
      from: e.from ?? null,
      repository: e.repository,
      registry: registry!,
      path: rest.join('/'),
      gates: e.gates,
      gateDeadlinesMs: Object.fromEntries(
        GATE_TYPES.filter((g) => e.gates[g] !== undefined).map((g) => [
          g,
          parseDuration((e.gates[g] as { deadline?: string } | null)?.deadline ?? doc.gates.deadline),
        ]),
      ),
      approvals: {
        required,
        roles: e.approvals?.roles ?? [DEFAULT_APPROVER_ROLE],
        expiresAfterMs: e.approvals?.expiresAfter ?? null,
        timeoutMs: e.approvals?.timeout ?? DEFAULT_TIMEOUT_MS,
      },
      reviews: e.reviews,
      tags: e.tags,
      copyAttachments: e.copyAttachments,
    };
  });

  const entries = environments.filter((e) => e.from === null);
  if (entries.length !== 1) {
    issues.push({
      path: 'environments',
      message: `exactly one environment must have no 'from' (the entry); found ${entries.length === 0 ? 'none' : entries.map((e) => e.name).join(', ')}`,
    });
  }
  issues.push(...cycles(environments));
  issues.push(...resolvePolicies(doc.policy, { source, registryHosts: registries.map((r) => r.host), environments }));
  issues.push(...notifyIssues(doc.slack, names));
  issues.push(...identityIssues(doc.identity, names));
  issues.push(
    ...auditIssues(
      doc.audit,
      registries.map((r) => r.name),
    ),
  );
  if (issues.length > 0) throw new ConfigError(source, issues);

  return {
    registries,
    environments,
    entry: entries[0]!.name,
    signing: doc.signing
      ? {
          key: {
            path: doc.signing.key.path,
            passwordEnv: doc.signing.key.passwordEnv ?? null,
            passwordFile: doc.signing.key.passwordFile ?? null,
          },
        }
      : null,
    slack: doc.slack ?? null,
    webhooks: doc.webhooks,
    scanning: scanningConfig(doc.scanning),
    limits: limitsConfig(doc.limits),
    worker: workerConfig(doc.worker),
    identity: doc.identity,
    audit: auditConfig(doc.audit),
  };
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

function duplicates(values: string[]): number[] {
  return values.flatMap((v, i) => (values.indexOf(v) !== i ? [i] : []));
}

function cycles(environments: EnvironmentConfig[]): ConfigIssue[] {
  const byName = new Map(environments.map((e) => [e.name, e]));
  const issues: ConfigIssue[] = [];
  environments.forEach((env, i) => {
    const seen = new Set<string>();
    let cur: EnvironmentConfig | undefined = env;
    while (cur?.from) {
      if (seen.has(cur.name)) {
        issues.push({ path: formatPath(['environments', i, 'from']), message: `'from' forms a cycle through ${[...seen].join(' → ')}` });
        return;
      }
      seen.add(cur.name);
      cur = byName.get(cur.from);
    }
  });
  return issues;
}
