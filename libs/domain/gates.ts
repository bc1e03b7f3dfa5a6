import { canonicalJson, sha256Hex } from './canonical-json.js';

export const GATE_STATUSES = ['pending', 'passed', 'failed', 'error', 'waived'] as const;

export type GateStatus = (typeof GATE_STATUSES)[number];

export interface GateOutcome {
  gate: string;
  status: GateStatus;
  evidenceDigest: string | null;
}

export type GatesVerdict = 'pending' | 'passed' | 'failed';

export function gatesVerdict(results: readonly GateOutcome[]): GatesVerdict {
  // A verdict is only final once every gate has reported.
  if (results.some((r) => r.status === 'pending')) return 'pending';
  // A gate that could not run is treated as failed: fail closed.
  if (results.some((r) => r.status === 'failed' || r.status === 'error')) return 'failed';
  return 'passed';
}

/**
 * The gates of a round that may start now, out of those still pending. The policy gate's rules see
 * the other gates' results (signature identities, scan counts), so it starts only once they have all
 * reported: what its rules see is then the same however fast the queues run.
 */
export function gatesReadyToStart<G extends string>(pending: readonly G[]): G[] {
  const others = pending.filter((g) => g !== 'policy');
  return others.length > 0 ? others : [...pending];
}

/** Digest of the gate outcomes that approvals are bound to: any change in evidence invalidates them. */
export function evidenceDigest(results: readonly GateOutcome[]): string {
  const reduced = results
    .map(({ gate, status, evidenceDigest }) => ({ gate, status, evidenceDigest }))
    .map((r) => ({ r, json: canonicalJson(r) }))
    .sort((a, b) => compare(a.r.gate, b.r.gate) || compare(a.json, b.json))
    .map(({ r }) => r);
  return `sha256:${sha256Hex(canonicalJson(reduced))}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
