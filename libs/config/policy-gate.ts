import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  builtinRule,
  BUILTIN_RULE_NAMES,
  checkRule,
  isBuiltinRule,
  policySet,
  type BuiltinRuleName,
  type ParamValue,
  type PolicyRule,
  type PolicySet,
} from '#libs/policy/index.js';
import type { ConfigIssue } from './config-error.js';
import { durationText, nameSchema, parseDuration } from '#libs/domain/index.js';
import { gateDeadline } from './gate-deadline.js';
import { formatPath, zodIssues } from './zod-issues.js';

// `gates.policy` of an environment, the top-level `policy` key, and the policy files they name:
// built-in rules by name (with options), custom CEL rules, files of more rules. Every rule is
// compiled here, at start-up; an environment's gate options become the rules in force for it
// (a PolicySet with its digest).

const name = nameSchema;
const severity = z.enum(['deny', 'warn']).default('deny');
const environments = z.array(name).min(1).optional();
const maxAge = durationText;

const common = { severity, environments };
const BUILTIN_OPTIONS: Record<BuiltinRuleName, z.ZodType> = {
  'non-root': z.strictObject({ name: z.literal('non-root'), ...common }),
  'allowed-registries': z.strictObject({
    name: z.literal('allowed-registries'),
    ...common,
    registries: z.array(z.string().min(1)).min(1).optional(),
  }),
  'no-latest-tag': z.strictObject({ name: z.literal('no-latest-tag'), ...common }),
  'trusted-base-image': z.strictObject({
    name: z.literal('trusted-base-image'),
    ...common,
    bases: z.array(z.string().min(1), { error: 'list the trusted base images (names or sha256 digests) under bases' }).min(1),
  }),
  'no-shell': z.strictObject({ name: z.literal('no-shell'), ...common }),
  'no-package-manager': z.strictObject({ name: z.literal('no-package-manager'), ...common }),
  'max-age': z.strictObject({ name: z.literal('max-age'), ...common, maxAge: maxAge.default('90d') }),
  'required-labels': z.strictObject({
    name: z.literal('required-labels'),
    ...common,
    labels: z.array(z.string().min(1), { error: 'list the labels every image must carry under labels' }).min(1),
  }),
  'single-platform-or-index': z.strictObject({ name: z.literal('single-platform-or-index'), ...common }),
};

interface BuiltinEntry {
  name: BuiltinRuleName;
  severity: 'deny' | 'warn';
  environments?: string[];
  registries?: string[];
  bases?: string[];
  maxAge?: string;
  labels?: string[];
}

/** A built-in by name (`non-root`) or with options (`{ name: max-age, maxAge: 30d }`). */
const builtinEntry = z.union([z.string(), z.looseObject({ name: z.string() })]).transform((entry, ctx): BuiltinEntry => {
  const obj = typeof entry === 'string' ? { name: entry } : entry;
  if (!isBuiltinRule(obj.name)) {
    ctx.addIssue({
      code: 'custom',
      path: typeof entry === 'string' ? [] : ['name'],
      message: `'${obj.name}' is not a built-in rule (${BUILTIN_RULE_NAMES.join(', ')}); write your own under custom`,
    });
    return z.NEVER;
  }
  const parsed = BUILTIN_OPTIONS[obj.name].safeParse(obj);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const message = issue.code === 'unrecognized_keys' ? `unknown option(s) for ${obj.name}: ${issue.keys.join(', ')}` : issue.message;
      ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message });
    }
    return z.NEVER;
  }
  return parsed.data as BuiltinEntry;
});

const customRule = z.strictObject({
  name: name.refine((n) => !isBuiltinRule(n), {
    error: (issue) => `'${String(issue.input)}' is a built-in rule's name; turn it on under rules, or name yours differently`,
  }),
  expression: z.string().min(1).max(8192),
  message: z.string().max(2000).optional(),
  severity,
  environments,
});

const rulesBlock = {
  rules: z.array(builtinEntry).default([]),
  custom: z.array(customRule).default([]),
};
const files = z.array(z.string().min(1, 'must name a file')).default([]);

/** `gates.policy` of an environment. */
export const policyGateSchema = z
  .strictObject({ ...rulesBlock, files, deadline: gateDeadline.optional() })
  .nullable()
  .transform((v) => v ?? { rules: [], custom: [], files: [] });

/** The top-level `policy` key: rules for every environment that has a policy gate (or those named). */
export const policyTopLevelSchema = z.strictObject({ ...rulesBlock, files });

/** A policy file named under `files`: the same keys, without more files. */
export const policyFileSchema = z.strictObject(rulesBlock);

type Block = z.output<typeof policyFileSchema>;
type CustomRule = z.output<typeof customRule>;

/** One rule as written, where it was written, for one level (top-level or an environment's gate). */
interface Entry {
  rule: PolicyRule;
  environments?: string[];
  at: string;
}

export interface PolicyContext {
  /** The pipeline file: policy files are relative to its directory. */
  source: string;
  registryHosts: string[];
  environments: Array<{ name: string; gates: Record<string, unknown> }>;
}

/**
 * Expands built-ins, reads the policy files, compiles every custom rule and replaces each
 * environment's `gates.policy` with the PolicySet in force there. Problems are returned with the
 * key (and file) they concern.
 */
export function resolvePolicies(top: z.output<typeof policyTopLevelSchema> | undefined, context: PolicyContext): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const files = new Map<string, Block | null>();
  const readFile = (file: string, at: string): Block | null => {
    const path = resolve(dirname(resolve(context.source)), file);
    if (files.has(path)) return files.get(path)!;
    let block: Block | null = null;
    try {
      const parsed = policyFileSchema.safeParse(parseYaml(readFileSync(path, 'utf8')) ?? {});
      if (parsed.success) block = parsed.data;
      else
        issues.push(...zodIssues(parsed.error).map((i) => ({ path: `${at} (${file})${i.path ? ': ' + i.path : ''}`, message: i.message })));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      issues.push({
        path: at,
        message: code ? `cannot read ${path} (${code})` : `${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      });
    }
    files.set(path, block);
    return block;
  };
  const entriesOf = (block: Block, at: string): Entry[] => [
    ...block.rules.map((b, i) => ({
      rule: builtinRule(b.name, b.severity, builtinParams(b, context.registryHosts)),
      environments: b.environments,
      at: `${at}rules[${i}]`,
    })),
    ...block.custom.map((c, i) => ({ rule: custom(c), environments: c.environments, at: `${at}custom[${i}]` })),
  ];
  const levelOf = (block: (Block & { files: string[] }) | undefined, at: string): Entry[] => {
    if (!block) return [];
    const entries = entriesOf(block, at ? at + '.' : '');
    block.files.forEach((file, i) => {
      const where = `${at ? at + '.' : ''}files[${i}]`;
      const content = readFile(file, where);
      if (content) entriesOf(content, `${where} (${file}) `).forEach((e) => entries.push(e));
    });
    return entries;
  };

  const topEntries = levelOf(top, 'policy');
  const gated = context.environments.filter((e) => e.gates.policy !== undefined);
  const envEntries = new Map(
    context.environments.map((env, i) => [
      env.name,
      env.gates.policy === undefined
        ? []
        : levelOf(env.gates.policy as Block & { files: string[] }, formatPath(['environments', i, 'gates', 'policy'])),
    ]),
  );

  // Compile every rule once, wherever it applies.
  const checked = new Set<PolicyRule>();
  for (const entry of [topEntries, ...envEntries.values()].flat()) {
    if (checked.has(entry.rule)) continue;
    checked.add(entry.rule);
    for (const problem of checkRule(entry.rule)) {
      issues.push({ path: `${entry.at}.${problem.where}`, message: `rule '${entry.rule.name}' does not compile: ${problem.message}` });
    }
    for (const env of entry.environments ?? []) {
      if (!context.environments.some((e) => e.name === env))
        issues.push({ path: `${entry.at}.environments`, message: `unknown environment '${env}'` });
      else if (!gated.some((e) => e.name === env))
        issues.push({ path: `${entry.at}.environments`, message: `environment '${env}' has no policy gate` });
    }
  }

  for (const env of gated) {
    const applies = (e: Entry) => e.environments === undefined || e.environments.includes(env.name);
    const level = (entries: Entry[]) => {
      const byName = new Map<string, Entry>();
      for (const e of entries.filter(applies)) {
        const earlier = byName.get(e.rule.name);
        if (earlier)
          issues.push({ path: e.at, message: `rule '${e.rule.name}' is already defined at ${earlier.at} for environment '${env.name}'` });
        else byName.set(e.rule.name, e);
      }
      return byName;
    };
    // An environment's own rule replaces a top-level rule of the same name (e.g. other options).
    const merged = level(topEntries);
    for (const [ruleName, entry] of level(envEntries.get(env.name) ?? [])) merged.set(ruleName, entry);
    env.gates.policy = policySet([...merged.values()].map((e) => e.rule)) as unknown as Record<string, unknown>;
  }
  return issues;
}

function custom(c: CustomRule): PolicyRule {
  return {
    name: c.name,
    severity: c.severity,
    expression: c.expression,
    message: c.message ?? `policy rule ${c.name} failed`,
    params: {},
    builtin: false,
  };
}

function builtinParams(b: BuiltinEntry, registryHosts: string[]): Record<string, ParamValue> {
  switch (b.name) {
    case 'allowed-registries':
      return { registries: b.registries ?? registryHosts };
    case 'trusted-base-image':
      return { bases: b.bases ?? [] };
    case 'max-age': {
      const text = b.maxAge ?? '90d';
      return { maxAge: `${Math.floor(parseDuration(text) / 1000)}s`, maxAgeText: text };
    }
    case 'required-labels':
      return { labels: b.labels ?? [] };
    default:
      return {};
  }
}

/** The rules in force for an environment's policy gate, as resolved at start-up. */
export function policyOf(options: Record<string, unknown> | undefined): PolicySet | null {
  const set = options as Partial<PolicySet> | undefined;
  return set && typeof set.policyDigest === 'string' && Array.isArray(set.rules) ? (set as PolicySet) : null;
}
