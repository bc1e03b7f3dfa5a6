import { dirname } from 'node:path';
import { AppConfig, ConfigError, scanGateSchema, type ConfigIssue } from '#libs/config/index.js';
import { hashFor, loadVerificationPolicy, pae, TrustConfigError, type DsseEnvelope, type TrustedKey } from '#libs/signing/index.js';
import { verify } from 'node:crypto';

/**
 * The keys whose vulnerability attestations each environment trusts (`gates.scan.attestationKeys`),
 * read when the worker starts: a missing or bad key file stops it, naming the key.
 */
export function loadAttestationKeys(config: AppConfig): Map<string, TrustedKey[]> {
  const baseDir = dirname(config.process.configPath);
  const byEnv = new Map<string, TrustedKey[]>();
  const issues: ConfigIssue[] = [];
  config.pipeline.environments.forEach((env, i) => {
    if (!env.gates.scan) return;
    const at = `environments[${i}].gates.scan`;
    const parsed = scanGateSchema.safeParse(env.gates.scan);
    if (!parsed.success) {
      issues.push({ path: at, message: parsed.error.issues.map((x) => x.message).join('; ') });
      return;
    }
    if (parsed.data.attestationKeys.length === 0) return;
    try {
      const policy = loadVerificationPolicy({ keys: parsed.data.attestationKeys, identities: [], attestations: [] }, baseDir);
      byEnv.set(env.name, policy.keys);
    } catch (err) {
      if (!(err instanceof TrustConfigError)) throw err;
      issues.push({ path: `${at}.attestation${err.path.replace(/^k/, 'K')}`, message: err.message.slice(err.path.length + 2) });
    }
  });
  if (issues.length > 0) throw new ConfigError(config.process.configPath, issues);
  return byEnv;
}

/** The trusted key that verifies one of the envelope's signatures over its DSSE PAE, or null. */
export function envelopeSigner(envelope: DsseEnvelope, keys: readonly TrustedKey[]): TrustedKey | null {
  const signed = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  for (const s of envelope.signatures) {
    const sig = Buffer.from(s.sig, 'base64');
    for (const key of keys) {
      try {
        if (verify(hashFor(key.key), signed, key.key, sig)) return key;
      } catch {
        // A signature of the wrong shape for this key type: not this key.
      }
    }
  }
  return null;
}
