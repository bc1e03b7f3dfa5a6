import type { ParamValue, PolicyRule, Severity } from './rule.js';

// The container-hardening rules, written in CEL like any custom rule so one evaluator runs both.
// Their text is part of the policy digest: changing a built-in changes the digest of every policy
// that uses it.

export const BUILTIN_RULE_NAMES = [
  'non-root',
  'allowed-registries',
  'no-latest-tag',
  'trusted-base-image',
  'no-shell',
  'no-package-manager',
  'max-age',
  'required-labels',
  'single-platform-or-index',
] as const;

export type BuiltinRuleName = (typeof BUILTIN_RULE_NAMES)[number];

export interface BuiltinRule {
  description: string;
  expression: string;
  message: string;
}

const BASE_NAME = 'annotations["org.opencontainers.image.base.name"]';
const BASE_DIGEST = 'annotations["org.opencontainers.image.base.digest"]';
const MANIFEST_TYPES = '["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"]';

export const BUILTIN_RULES: Record<BuiltinRuleName, BuiltinRule> = {
  'non-root': {
    description:
      'the config names a user that resolves, as the runtime resolves it, to a uid other than 0: numeric forms normalised ("00", "+0" are 0), names looked up in the image\'s /etc/passwd and /etc/group; a name that cannot be resolved is denied',
    expression: 'config.User != "" && user.problem == "" && user.uid != null && user.uid != 0',
    message:
      '{{user.problem != "" ? "the image\'s user cannot be resolved (config User is \\"" + config.User + "\\"): " + user.problem : "the image runs as root (config User is " + (config.User == "" ? "not set" : "\\"" + config.User + "\\", uid 0") + ")"}}; set USER to a non-root user',
  },
  'allowed-registries': {
    description: "the image comes from one of the allowed registries (option `registries`; default: the pipeline's registries)",
    expression: 'image.registry in params.registries',
    message: 'the image comes from {{image.registry}}, which is not an allowed registry ({{params.registries.join(", ")}})',
  },
  'no-latest-tag': {
    description: 'the image was not requested by the tag `latest`',
    expression: 'image.tag != "latest"',
    message: 'the image was requested by the tag "latest"; promote a versioned tag or a digest',
  },
  'trusted-base-image': {
    description: 'the base image annotation (org.opencontainers.image.base.name or .base.digest) is on the allow-list (option `bases`)',
    expression:
      `(${BASE_DIGEST} != "" && ${BASE_DIGEST} in params.bases) || ` +
      `(${BASE_NAME} != "" && params.bases.exists(b, ${BASE_NAME} == b || ${BASE_NAME}.startsWith(b + ":") || ${BASE_NAME}.startsWith(b + "@")))`,
    message:
      'the base image {{' +
      BASE_NAME +
      ' == "" ? "is not annotated (org.opencontainers.image.base.name)" : ' +
      BASE_NAME +
      ' + (' +
      BASE_DIGEST +
      ' == "" ? "" : "@" + ' +
      BASE_DIGEST +
      ') + " is not trusted"}}; trusted bases: {{params.bases.join(", ")}}',
  },
  'no-shell': {
    description: 'the final filesystem holds no shell (/bin/sh, /bin/bash, /bin/ash)',
    expression: '!filesystem.hasShell',
    message: 'the image contains a shell: {{filesystem.shells.join(", ")}}',
  },
  'no-package-manager': {
    description: 'the final filesystem holds no package manager (apt, apt-get, dpkg, apk, yum, dnf, rpm)',
    expression: '!filesystem.hasPackageManager',
    message: 'the image contains a package manager: {{filesystem.packageManagers.join(", ")}}',
  },
  'max-age': {
    description: 'the image was built no longer ago than the option `maxAge` (default 90d)',
    expression: 'created != null && now - created <= duration(params.maxAge)',
    message:
      'the image was built {{created == null ? "at an unknown time (its config has no created date)" : created}}; images older than {{params.maxAgeText}} are refused',
  },
  'required-labels': {
    description: 'the config carries every label named in the option `labels`',
    expression: 'params.labels.all(l, l in config.Labels)',
    message: 'the image lacks the label(s) {{params.labels.filter(l, !(l in config.Labels)).join(", ")}}',
  },
  'single-platform-or-index': {
    description: 'a single-platform image that names its platform, or an index of image manifests with distinct platforms',
    expression:
      '!("unknown" in image.platforms) && image.platforms.all(p, image.platforms.filter(q, q == p).size() == 1) && ' +
      `image.index.all(e, e.mediaType in ${MANIFEST_TYPES})`,
    message:
      'the image is neither a single-platform image nor an index of distinct platforms (platforms: {{image.platforms.join(", ")}}; index entries: {{image.index.map(e, e.mediaType).join(", ")}})',
  },
};

export function isBuiltinRule(name: string): name is BuiltinRuleName {
  return (BUILTIN_RULE_NAMES as readonly string[]).includes(name);
}

export function builtinRule(name: BuiltinRuleName, severity: Severity, params: Record<string, ParamValue> = {}): PolicyRule {
  const rule = BUILTIN_RULES[name];
  return { name, severity, expression: rule.expression, message: rule.message, params, builtin: true };
}
