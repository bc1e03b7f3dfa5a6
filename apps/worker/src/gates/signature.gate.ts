import { Injectable } from '@nestjs/common';
import { AppConfig, ConfigError } from '#libs/config/index.js';
import { RegistryClient, isRegistryError } from '#libs/registry/index.js';
import { signerLabel, verifyImage, type ManifestResult, type VerificationPolicy, type VerificationReport } from '#libs/signing/index.js';
import type { Gate, GateContext, GateVerdict } from '#libs/workflow/index.js';
import { loadSignaturePolicies } from './signature-policies.js';

/**
 * The `signature` gate: the source image must carry a valid cosign signature by a trusted key or
 * keyless identity, and every attestation the environment asks for. Trust files are read at boot
 * (boot.ts stops the process when one is missing or bad); if they cannot be read here after all,
 * the gate fails closed with that error rather than taking the process down inside Nest.
 */
@Injectable()
export class SignatureGate implements Gate {
  readonly type = 'signature' as const;
  private readonly policies: Map<string, VerificationPolicy>;
  private readonly trustError: string | null = null;

  constructor(
    config: AppConfig,
    private readonly registry: RegistryClient,
  ) {
    let policies = new Map<string, VerificationPolicy>();
    try {
      policies = loadSignaturePolicies(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.trustError = err.message;
    }
    this.policies = policies;
  }

  async evaluate(context: GateContext): Promise<GateVerdict> {
    if (this.trustError)
      return { status: 'error', summary: `trust configuration unusable: ${this.trustError}`, evidence: { error: this.trustError } };
    const policy = this.policies.get(context.environment.name);
    if (!policy) {
      return {
        status: 'error',
        summary: `environment ${context.environment.name} has no gates.signature configuration`,
        evidence: { configured: false },
      };
    }
    const { promotion } = context;
    const { image } = context;
    let report: VerificationReport;
    try {
      report = await verifyImage(this.registry, image, policy, { signal: context.signal });
    } catch (err) {
      // Transient registry trouble: throw, so the job is retried. Anything else is final.
      if (isRegistryError(err) && err.retryable) throw err;
      const message = err instanceof Error ? err.message : String(err);
      return {
        status: 'error',
        summary: `cannot read the signatures of ${promotion.image}: ${message}`,
        evidence: { image: promotion.image, error: message },
      };
    }
    // Who signed and which attestations hold: not the .sig manifest's digest, which any further signature changes.
    const basis = {
      image: report.image,
      verified: report.verified,
      signers: report.signers,
      attestations: report.attestations.map((a) => ({ predicateType: a.predicateType, satisfied: a.satisfied })),
    };
    return { status: report.verified ? 'passed' : 'failed', summary: summarise(report), evidence: { ...report }, basis };
  }
}

function summarise(report: VerificationReport): string {
  const sigs = describe('signature', report.signatures);
  const missing = report.attestations.filter((a) => !a.satisfied).map((a) => a.predicateType);
  if (report.verified) {
    return `verified: ${report.signers.map(signerLabel).join('; ')}`;
  }
  const accepted = report.signatures.items.some((i) => i.accepted);
  const parts = [accepted ? 'signature verified' : sigs];
  if (missing.length > 0) parts.push(`no valid attestation of ${missing.join(', ')}`);
  return parts.join('; ');
}

function describe(what: string, m: ManifestResult): string {
  if (m.problem) return `no valid ${what}: ${m.problem}`;
  if (m.items.length === 0) return `no ${what}s: the image has no ${m.tag} and no sigstore bundle referrer`;
  const reasons = new Map<string, number>();
  for (const item of m.items) if (!item.accepted && item.reason) reasons.set(item.reason, (reasons.get(item.reason) ?? 0) + 1);
  const list = [...reasons].map(([r, n]) => `${r} ×${n}`).join(', ');
  return `no valid ${what} among ${m.items.length} found (rejected: ${list || 'none examined'})`;
}
