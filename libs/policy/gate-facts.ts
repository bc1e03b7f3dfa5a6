import type { GateFacts } from './facts.js';

/**
 * Another gate's result as rules see it: status and summary, the signers the signature gate
 * verified (`signers` in its evidence) and the scan gate's counts by severity (`counts`).
 */
export function gateFactsOf(result: { status: string; summary: string; evidence: unknown }): GateFacts {
  const evidence = isObject(result.evidence) ? result.evidence : {};
  const facts: GateFacts = { status: result.status, summary: result.summary };
  const report = isObject(evidence.report) ? evidence.report : {};
  const signers = [evidence.identities, evidence.signers, report.signers].find(Array.isArray) as unknown[] | undefined;
  if (signers) facts.identities = signers.filter(isObject).map(scalars);
  const counts = [evidence.counts, isObject(evidence.summary) ? evidence.summary.counts : undefined].find(isObject);
  if (counts) facts.counts = Object.fromEntries(Object.entries(counts).filter((e): e is [string, number] => typeof e[1] === 'number'));
  return facts;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Only strings and numbers: nothing nested or large reaches the rules. */
function scalars(o: Record<string, unknown>): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(o).filter((e): e is [string, string | number] => typeof e[1] === 'string' || typeof e[1] === 'number'),
  );
}
