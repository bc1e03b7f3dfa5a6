import { z } from 'zod';
import { parseDuration } from './duration.js';

// `audit:` of the pipeline file: the audit log's checkpoints — who signs them, how often, and where
// copies go outside the database (docs/audit.md).

/** The audit log's checkpoints: who signs them, how often, where copies go. */
export interface AuditConfig {
  /** The log's name: the first line of every checkpoint and the signing key's name. */
  origin: string;
  /** Ed25519 key (PKCS#8 PEM) the worker signs checkpoints with; `publicPath` for processes without it. Null: no checkpoints. */
  key: { path: string; publicPath: string | null } | null;
  checkpoint: { everyEvents: number; everyMs: number };
  /** Push each checkpoint as an OCI artifact to `<registry>/<repository>` (`:latest` and `:size-<n>`). */
  publish: { registry: string; repository: string } | null;
}

export const DEFAULT_AUDIT_ORIGIN = 'image-promoter.local/audit';

const duration = z.string().transform((text, ctx) => {
  try {
    const ms = parseDuration(text);
    if (ms <= 0) throw new Error('must be longer than zero');
    return ms;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const auditSchema = z.strictObject({
  origin: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$/, 'must be a name like example.com/audit (letters, digits, . _ / : -)')
    .default(DEFAULT_AUDIT_ORIGIN),
  key: z.strictObject({ path: z.string().min(1), publicPath: z.string().min(1).optional() }).optional(),
  checkpoint: z
    .strictObject({ everyEvents: z.number().int().min(1).max(1_000_000).default(1000), every: duration.default(60_000) })
    .default({ everyEvents: 1000, every: 60_000 }),
  publish: z
    .strictObject({
      registry: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lowercase letters, digits and dashes'),
      repository: z.string().regex(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/, 'must be a repository path, e.g. audit/checkpoints'),
    })
    .optional(),
});

export function auditIssues(
  audit: z.output<typeof auditSchema> | undefined,
  registries: readonly string[],
): { path: string; message: string }[] {
  if (!audit?.publish || registries.includes(audit.publish.registry)) return [];
  return [{ path: 'audit.publish.registry', message: `unknown registry '${audit.publish.registry}' (known: ${registries.join(', ')})` }];
}

export function auditConfig(audit: z.output<typeof auditSchema> | undefined): AuditConfig {
  return {
    origin: audit?.origin ?? DEFAULT_AUDIT_ORIGIN,
    key: audit?.key ? { path: audit.key.path, publicPath: audit.key.publicPath ?? null } : null,
    checkpoint: { everyEvents: audit?.checkpoint.everyEvents ?? 1000, everyMs: audit?.checkpoint.every ?? 60_000 },
    publish: audit?.publish ?? null,
  };
}
