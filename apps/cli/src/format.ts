import { STUCK_STATUSES, TERMINAL_STATUSES, type LastError, type Promotion } from './types.js';

export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function isStuck(status: string): boolean {
  return STUCK_STATUSES.includes(status);
}

export function isFailure(status: string): boolean {
  return isStuck(status) || (isTerminal(status) && status !== 'promoted');
}

export function route(p: Promotion): string {
  return `${p.source} → ${p.target}`;
}

export function imageLine(p: Promotion): string {
  return p.digest && !p.image.includes(p.digest) ? `${p.image} (${p.digest})` : p.image;
}

export function stillNeeded(p: Promotion): string[] {
  const { approval } = p;
  if (!approval) return [];
  const lines: string[] = [];
  if (approval.needed > 0) {
    const from = approval.roles && approval.roles.length > 0 ? ` from ${approval.roles.join(' or ')}` : '';
    lines.push(`${approval.needed} more approval${approval.needed === 1 ? '' : 's'}${from}`);
  }
  for (const kind of approval.missingReviews ?? []) lines.push(`${kind} review`);
  return lines;
}

export function neededSummary(p: Promotion): string {
  if (isTerminal(p.status)) return 'nothing (promotion is finished)';
  if (p.status === 'failed') {
    const cause = p.lastError ? ` (${p.lastError.step ?? 'the copy'} failed: ${p.lastError.message})` : '';
    return `a retry by a release manager (promoctl retry) once the cause is fixed${cause}`;
  }
  if (p.status === 'blocked') return 're-evaluation once the failing gates can pass (POST …/reevaluate)';
  const needed = stillNeeded(p);
  return needed.length > 0 ? needed.join('; ') : 'no approvals or reviews';
}

export function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => (indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).trimEnd());
}

/** `copy, attempt 3 at 2026-12-02T10:00:00.000Z: <message>` */
export function lastErrorLine(e: LastError): string {
  const where = [e.step, e.attempt ? `attempt ${e.attempt}` : null].filter(Boolean).join(', ');
  return `${where}${e.at ? ` at ${e.at}` : ''}: ${e.message}`;
}
