import { lastErrorLine, stillNeeded } from './format.js';
import type { GateResult, Promotion } from './types.js';

/** At most this many findings or rules are named per gate: the rest is in `promoctl status --json`. */
const MAX_LISTED = 5;

/**
 * Why a promotion stopped where it did, for the person (or CI log) that must act on it: the
 * failing gates with what to do about each, who rejected and what they said, what is still missing.
 */
export function reasons(p: Promotion): string[] {
  switch (p.status) {
    case 'blocked':
      return blockedReasons(p);
    case 'rejected':
      return rejectedReasons(p);
    case 'failed':
      return failedReasons(p);
    case 'expired':
      return [`it expired${p.expiresAt ? ` at ${p.expiresAt}` : ''} while waiting for: ${waitingFor(p)}`];
    case 'cancelled':
      return [`who cancelled it and why: promoctl events ${p.id}`];
    default:
      return pendingReasons(p);
  }
}

/** What a promotion that has not finished is waiting for (printed when --wait times out). */
export function pendingReasons(p: Promotion): string[] {
  const waiting = waitingReasons(p);
  return p.lastError ? [...waiting, `last error: ${lastErrorLine(p.lastError)}`] : waiting;
}

function waitingReasons(p: Promotion): string[] {
  switch (p.status) {
    case 'pending':
    case 'evaluating': {
      const open = p.gates.filter((g) => g.status === 'pending');
      return open.length > 0 ? [`gates still being evaluated: ${open.map((g) => g.gate).join(', ')}`] : ['the gates are being evaluated'];
    }
    case 'awaiting_approval':
      return stillNeeded(p).map((n) => `still needed: ${n}`);
    case 'approved':
      return ['approved; the copy is queued for a worker'];
    case 'promoting':
      return [`the copy into ${p.target} is running${p.progress ? `: ${progressLine(p.progress)}` : ''}`];
    default:
      return [];
  }
}

function waitingFor(p: Promotion): string {
  const needed = stillNeeded(p);
  return needed.length > 0 ? needed.join('; ') : 'a decision';
}

function blockedReasons(p: Promotion): string[] {
  const failing = p.gates.filter((g) => g.status === 'failed' || g.status === 'error');
  const lines: string[] = [];
  for (const g of failing) {
    lines.push(`gate ${g.gate} ${g.status}: ${g.summary ?? '(no summary)'}`);
    for (const detail of gateDetails(g)) lines.push(`  ${detail}`);
    lines.push(`  what to do: ${advice(g, p)}`);
  }
  if (failing.length === 0) lines.push('no gate reports a failure now; see promoctl status');
  lines.push(`then run the gates again: promoctl reevaluate ${p.id} (a release manager or security reviewer)`);
  return lines;
}

function advice(g: GateResult, p: Promotion): string {
  if (g.status === 'error') return 'the gate could not judge the image (it fails closed); fix the cause named above';
  switch (g.gate) {
    case 'signature':
      return `sign the image with a key or identity the ${p.target} environment trusts; check with promoctl verify ${p.image} --key <key.pub>`;
    case 'scan': {
      const blocking = (g.evidence as { blocking?: unknown[] } | undefined)?.blocking;
      if (!Array.isArray(blocking) || blocking.length === 0) return 'the scan could not judge the image; do what the summary says';
      return 'upgrade the packages named (a fixed version is listed when there is one), or have a security reviewer waive a finding: promoctl waiver create';
    }
    case 'policy':
      return `change the image so the denied rules pass; try it first with promoctl policy evaluate --image <image> --to ${p.target}`;
    default:
      return 'see the gate summary above';
  }
}

/** A few named findings or rules from the gate's evidence, when it has them. */
function gateDetails(g: GateResult): string[] {
  const evidence = (g.evidence ?? {}) as Record<string, unknown>;
  if (g.gate === 'scan' && Array.isArray(evidence.blocking)) {
    const blocking = evidence.blocking as {
      id?: string;
      package?: string;
      installedVersion?: string;
      fixedVersion?: string | null;
      severity?: string;
    }[];
    return limited(
      blocking.map(
        (f) =>
          `${f.id} in ${f.package} ${f.installedVersion} (${f.severity}): ${f.fixedVersion ? `fixed in ${f.fixedVersion}` : 'no fix yet'}`,
      ),
      typeof evidence.blockingCount === 'number' ? evidence.blockingCount : blocking.length,
    );
  }
  if (g.gate === 'policy' && Array.isArray(evidence.rules)) {
    const denied = (
      evidence.rules as { name?: string; outcome?: string; severity?: string; message?: string | null; platform?: string }[]
    ).filter((r) => r.outcome !== 'pass' && r.severity === 'deny');
    return limited(
      denied.map((r) => `rule ${r.name}${r.platform ? ` (${r.platform})` : ''}: ${r.message ?? r.outcome}`),
      denied.length,
    );
  }
  return [];
}

function limited(lines: string[], total: number): string[] {
  const shown = lines.slice(0, MAX_LISTED);
  if (total > shown.length) shown.push(`… and ${total - shown.length} more (promoctl status --json)`);
  return shown;
}

function rejectedReasons(p: Promotion): string[] {
  const lines: string[] = [];
  for (const a of p.approvals) {
    if (a.decision === 'reject' && a.counts) lines.push(`rejected by ${a.approver.name}: ${quoted(a.comment)}`);
  }
  for (const r of p.reviews ?? []) {
    if (r.verdict === 'reject' && r.counts) lines.push(`rejected by ${r.reviewer.name} in the ${r.kind} review: ${quoted(r.notes)}`);
  }
  if (lines.length === 0) lines.push(p.approval?.rejectedBy ? `rejected by ${p.approval.rejectedBy}` : 'rejected');
  return lines;
}

function quoted(text: string | null): string {
  return text ? `"${text}"` : '(no comment)';
}

function failedReasons(p: Promotion): string[] {
  const lines = p.lastError
    ? [`it failed: ${lastErrorLine(p.lastError)}`]
    : [`the copy failed; the registry's error is in its audit events: promoctl events ${p.id}`];
  lines.push(`what to do: fix the cause, then promoctl retry ${p.id} (a release manager)`);
  return lines;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function progressLine(progress: NonNullable<Promotion['progress']>): string {
  return `${progress.blobsDone}/${progress.blobsTotal} blobs, ${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}`;
}
