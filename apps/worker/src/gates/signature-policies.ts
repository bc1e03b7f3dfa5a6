import { dirname } from 'node:path';
import { ConfigError, signatureGateSchema, type AppConfig, type ConfigIssue } from '#libs/config/index.js';
import { loadVerificationPolicy, TrustConfigError, type VerificationPolicy } from '#libs/signing/index.js';

/**
 * Reads the trust files of every environment's `gates.signature` (relative to the pipeline file).
 * Called at boot, so that a missing or bad key stops start-up with a ConfigError naming the key.
 */
export function loadSignaturePolicies(config: AppConfig): Map<string, VerificationPolicy> {
  const baseDir = dirname(config.process.configPath);
  const policies = new Map<string, VerificationPolicy>();
  const issues: ConfigIssue[] = [];
  config.pipeline.environments.forEach((env, i) => {
    const options = env.gates.signature;
    if (!options) return;
    const at = `environments[${i}].gates.signature`;
    const parsed = signatureGateSchema.safeParse(options);
    if (!parsed.success) {
      issues.push({ path: at, message: parsed.error.issues.map((x) => x.message).join('; ') });
      return;
    }
    try {
      policies.set(env.name, loadVerificationPolicy(parsed.data, baseDir));
    } catch (err) {
      if (!(err instanceof TrustConfigError)) throw err;
      issues.push({ path: `${at}.${err.path}`, message: err.message.slice(err.path.length + 2) });
    }
  });
  if (issues.length > 0) throw new ConfigError(config.process.configPath, issues);
  return policies;
}
