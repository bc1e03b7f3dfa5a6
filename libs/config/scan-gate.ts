import { z } from 'zod';
import { durationText as duration, parseDuration } from '#libs/domain/index.js';
import { gateDeadline } from './gate-deadline.js';

// `gates.scan` of an environment and the pipeline's top-level `scanning` section. Durations stay
// as written (they show in gate evidence); the gate and the waiver service convert them.

export const SCAN_GATE_SOURCES = ['builtin', 'trivy', 'grype', 'attestation'] as const;
export const FAIL_ON_SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;

export const scanGateSchema = z
  .strictObject({
    /** The lowest severity that blocks. */
    failOn: z.enum(FAIL_ON_SEVERITIES).default('critical'),
    /** Findings with no fixed version do not block. */
    ignoreUnfixed: z.boolean().default(false),
    /** How old a scan result or the vulnerability database may be. */
    maxAge: duration.default('24h'),
    /** Which results the gate trusts; at least one must be fresh. */
    sources: z.array(z.enum(SCAN_GATE_SOURCES)).min(1, 'name at least one source').default(['builtin']),
    /** PEM public keys (relative to the pipeline file) whose vuln attestations are trusted. */
    attestationKeys: z.array(z.string().min(1, 'must name a file')).default([]),
    /** How long one evaluation may take (default: the top-level gates.deadline). */
    deadline: gateDeadline.optional(),
  })
  .superRefine((gate, ctx) => {
    if (new Set(gate.sources).size !== gate.sources.length)
      ctx.addIssue({ code: 'custom', path: ['sources'], message: 'names a source twice' });
    if (gate.sources.includes('attestation') && gate.attestationKeys.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['attestationKeys'],
        message: 'the attestation source needs attestationKeys: the keys whose vulnerability attestations are trusted',
      });
    }
  });

export const scanningSchema = z.strictObject({
  /** The longest a waiver may run before it expires. */
  maxWaiver: duration.default('90d'),
  /** How often a worker checks for a newly imported vulnerability database and pending SBOM attestations. */
  recheckInterval: duration.default('1m'),
});

export type ScanGateConfig = z.output<typeof scanGateSchema>;

export interface ScanningConfig {
  maxWaiverMs: number;
  recheckIntervalMs: number;
}

export function scanningConfig(raw: z.output<typeof scanningSchema> | undefined): ScanningConfig {
  const s = raw ?? scanningSchema.parse({});
  return { maxWaiverMs: parseDuration(s.maxWaiver), recheckIntervalMs: parseDuration(s.recheckInterval) };
}
