import { describe, expect, it } from 'vitest';
import {
  checkApprover,
  checkReviewer,
  countsNow,
  tallyApprovals,
  type ApprovalRecord,
  type ApprovalRule,
  type Bound,
  type Decision,
  type ReviewRecord,
} from './approval-rule.js';
import { PromotionError, type PromotionErrorCode } from './errors.js';

const HOUR = 3_600_000;
const NOW = new Date('2024-06-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

const bound: Bound = { digest: 'sha256:image', evidenceDigest: 'sha256:evidence', now: NOW };

const rule = (over: Partial<ApprovalRule> = {}): ApprovalRule => ({
  required: 2,
  roles: ['release-manager', 'admin'],
  expiresAfterMs: 24 * HOUR,
  reviews: [],
  ...over,
});

const approval = (approverId: string, over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  approverId,
  decision: 'approve',
  digest: bound.digest,
  evidenceDigest: bound.evidenceDigest,
  at: ago(HOUR),
  ...over,
});

const review = (reviewerId: string, kind: string, verdict: Decision = 'approve', over: Partial<ReviewRecord> = {}): ReviewRecord => ({
  reviewerId,
  kind,
  verdict,
  digest: bound.digest,
  evidenceDigest: bound.evidenceDigest,
  at: ago(HOUR),
  ...over,
});

function codeOf(fn: () => void): PromotionErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (err) {
    if (err instanceof PromotionError) return err.code;
    throw err;
  }
}

describe('countsNow', () => {
  const r = rule();

  it('counts a decision bound to the current digest and evidence within its lifetime', () => {
    expect(countsNow(approval('a'), r, bound)).toBe(true);
  });

  it('does not count a decision on another image digest', () => {
    expect(countsNow(approval('a', { digest: 'sha256:other' }), r, bound)).toBe(false);
  });

  it('does not count a decision on older evidence', () => {
    expect(countsNow(approval('a', { evidenceDigest: 'sha256:old' }), r, bound)).toBe(false);
  });

  it('counts until just before expiry and not at expiry', () => {
    expect(countsNow(approval('a', { at: ago(24 * HOUR - 1) }), r, bound)).toBe(true);
    expect(countsNow(approval('a', { at: ago(24 * HOUR) }), r, bound)).toBe(false);
    expect(countsNow(approval('a', { at: ago(48 * HOUR) }), r, bound)).toBe(false);
  });

  it('never expires when expiresAfterMs is null', () => {
    expect(countsNow(approval('a', { at: ago(10_000 * HOUR) }), rule({ expiresAfterMs: null }), bound)).toBe(true);
  });
});

describe('checkApprover', () => {
  const r = rule();
  const manager = { id: 'mia', roles: ['release-manager'] };

  it('accepts an allowed approver who has not yet decided', () => {
    expect(() => checkApprover(r, 'req', manager, [], bound)).not.toThrow();
    expect(() => checkApprover(r, 'req', { id: 'ada', roles: ['auditor', 'admin'] }, [approval('mia')], bound)).not.toThrow();
  });

  it('refuses the requester approving their own promotion, even with an allowed role', () => {
    expect(codeOf(() => checkApprover(r, 'mia', manager, [], bound))).toBe('self_approval');
  });

  it('refuses an approver with none of the allowed roles and names the allowed roles', () => {
    let err: unknown;
    try {
      checkApprover(r, 'req', { id: 'carl', roles: ['ci', 'auditor'] }, [], bound);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PromotionError);
    const pe = err as PromotionError;
    expect(pe.code).toBe('role_not_allowed');
    expect(pe.message).toContain('release-manager');
    expect(pe.message).toContain('admin');
    expect(pe.details).toMatchObject({ allowedRoles: ['release-manager', 'admin'] });
  });

  it('refuses an approver with no roles at all', () => {
    expect(codeOf(() => checkApprover(r, 'req', { id: 'x', roles: [] }, [], bound))).toBe('role_not_allowed');
  });

  it('refuses everyone when the rule allows no roles', () => {
    expect(codeOf(() => checkApprover(rule({ roles: [] }), 'req', manager, [], bound))).toBe('role_not_allowed');
  });

  it.each(['approve', 'reject'] as const)('refuses a second decision after a counting %s', (decision) => {
    expect(codeOf(() => checkApprover(r, 'req', manager, [approval('mia', { decision })], bound))).toBe('duplicate_decision');
  });

  it('checks self-approval before role, and role before duplicate', () => {
    expect(codeOf(() => checkApprover(r, 'carl', { id: 'carl', roles: [] }, [], bound))).toBe('self_approval');
    expect(codeOf(() => checkApprover(r, 'req', { id: 'carl', roles: [] }, [approval('carl')], bound))).toBe('role_not_allowed');
  });

  it.each([
    ['bound to another image digest', { digest: 'sha256:other' }],
    ['bound to older evidence', { evidenceDigest: 'sha256:old' }],
    ['expired', { at: ago(25 * HOUR) }],
  ])('allows deciding again when the earlier decision is %s', (_label, over) => {
    expect(codeOf(() => checkApprover(r, 'req', manager, [approval('mia', over)], bound))).toBe('none');
  });
});

describe('checkReviewer', () => {
  const r = rule({ reviews: ['security'] });
  const sec = { id: 'sam', roles: ['security-reviewer'] };

  it('accepts a required review kind from someone other than the requester', () => {
    expect(codeOf(() => checkReviewer(r, 'req', sec, 'security', [], bound))).toBe('none');
  });

  it('refuses a review kind the environment does not demand', () => {
    expect(codeOf(() => checkReviewer(r, 'req', sec, 'legal', [], bound))).toBe('review_not_required');
    expect(codeOf(() => checkReviewer(rule({ reviews: [] }), 'req', sec, 'security', [], bound))).toBe('review_not_required');
  });

  it('refuses the requester reviewing their own promotion', () => {
    expect(codeOf(() => checkReviewer(r, 'sam', sec, 'security', [], bound))).toBe('self_approval');
  });

  it.each(['approve', 'reject'] as const)('refuses a second counting %s review of the same kind', (verdict) => {
    expect(codeOf(() => checkReviewer(r, 'req', sec, 'security', [review('sam', 'security', verdict)], bound))).toBe('duplicate_decision');
  });

  it('allows the same reviewer on another kind, and another reviewer on the same kind', () => {
    const two = rule({ reviews: ['security', 'legal'] });
    const existing = [review('sam', 'security')];
    expect(codeOf(() => checkReviewer(two, 'req', sec, 'legal', existing, bound))).toBe('none');
    expect(codeOf(() => checkReviewer(two, 'req', { id: 'sue', roles: [] }, 'security', existing, bound))).toBe('none');
  });

  it.each([
    ['bound to another image digest', { digest: 'sha256:other' }],
    ['bound to older evidence', { evidenceDigest: 'sha256:old' }],
    ['expired', { at: ago(25 * HOUR) }],
  ])('allows reviewing again when the earlier review is %s', (_label, over) => {
    expect(codeOf(() => checkReviewer(r, 'req', sec, 'security', [review('sam', 'security', 'approve', over)], bound))).toBe('none');
  });

  it('checks the review kind before self-review', () => {
    expect(codeOf(() => checkReviewer(r, 'sam', sec, 'legal', [], bound))).toBe('review_not_required');
  });
});

describe('tallyApprovals', () => {
  it('approves at once when nothing is required', () => {
    expect(tallyApprovals(rule({ required: 0 }), [], [], bound)).toEqual({
      decision: 'approved',
      approvers: [],
      required: 0,
      needed: 0,
      missingReviews: [],
      rejectedBy: null,
      stale: 0,
      expired: 0,
    });
  });

  it('waits until the quorum of distinct approvers is reached', () => {
    const one = tallyApprovals(rule(), [approval('a')], [], bound);
    expect(one).toMatchObject({ decision: 'waiting', approvers: ['a'], required: 2, needed: 1 });

    const two = tallyApprovals(rule(), [approval('a'), approval('b')], [], bound);
    expect(two).toMatchObject({ decision: 'approved', approvers: ['a', 'b'], needed: 0 });
  });

  it('counts the same approver once however many records they have', () => {
    const t = tallyApprovals(rule(), [approval('a', { at: ago(3 * HOUR) }), approval('a'), approval('a', { at: ago(2) })], [], bound);
    expect(t).toMatchObject({ decision: 'waiting', approvers: ['a'], needed: 1 });
  });

  it('lists approvers in the order they approved and never needs fewer than zero', () => {
    const t = tallyApprovals(
      rule(),
      [approval('c', { at: ago(1) }), approval('a', { at: ago(3) }), approval('b', { at: ago(2) })],
      [],
      bound,
    );
    expect(t).toMatchObject({ decision: 'approved', approvers: ['a', 'b', 'c'], needed: 0 });
  });

  it('rejects on any counting rejection, even with a full quorum', () => {
    const t = tallyApprovals(rule(), [approval('a'), approval('b'), approval('c', { decision: 'reject' })], [], bound);
    expect(t).toMatchObject({ decision: 'rejected', rejectedBy: 'c', approvers: ['a', 'b'] });
  });

  it('rejects when required is 0 but someone rejected', () => {
    const t = tallyApprovals(rule({ required: 0 }), [approval('a', { decision: 'reject' })], [], bound);
    expect(t).toMatchObject({ decision: 'rejected', rejectedBy: 'a' });
  });

  it('names the earliest counting rejection across approvals and reviews', () => {
    const t = tallyApprovals(
      rule({ reviews: ['security'] }),
      [approval('late', { decision: 'reject', at: ago(1 * HOUR) })],
      [review('early', 'security', 'reject', { at: ago(2 * HOUR) })],
      bound,
    );
    expect(t).toMatchObject({ decision: 'rejected', rejectedBy: 'early' });
  });

  it('ignores a rejection that no longer counts', () => {
    const t = tallyApprovals(
      rule(),
      [approval('a'), approval('b'), approval('c', { decision: 'reject', evidenceDigest: 'sha256:old' })],
      [],
      bound,
    );
    expect(t).toMatchObject({ decision: 'approved', rejectedBy: null, stale: 1 });
  });

  it('does not count expired approvals and reports them', () => {
    const t = tallyApprovals(rule(), [approval('a', { at: ago(25 * HOUR) }), approval('b')], [], bound);
    expect(t).toMatchObject({ decision: 'waiting', approvers: ['b'], needed: 1, expired: 1, stale: 0 });
  });

  it('does not count approvals bound to another digest or older evidence and reports them as stale', () => {
    const t = tallyApprovals(
      rule(),
      [approval('a', { digest: 'sha256:other' }), approval('b', { evidenceDigest: 'sha256:old' }), approval('c')],
      [],
      bound,
    );
    expect(t).toMatchObject({ decision: 'waiting', approvers: ['c'], needed: 1, stale: 2, expired: 0 });
  });

  it('reports a decision that is both stale and old as stale', () => {
    const t = tallyApprovals(rule(), [approval('a', { digest: 'sha256:other', at: ago(99 * HOUR) })], [], bound);
    expect(t).toMatchObject({ stale: 1, expired: 0 });
  });

  it('counts stale and expired reviews too', () => {
    const t = tallyApprovals(
      rule({ required: 0, reviews: ['security'] }),
      [],
      [review('s1', 'security', 'approve', { evidenceDigest: 'sha256:old' }), review('s2', 'security', 'approve', { at: ago(30 * HOUR) })],
      bound,
    );
    expect(t).toMatchObject({ decision: 'waiting', missingReviews: ['security'], stale: 1, expired: 1 });
  });

  it('waits on missing reviews even with a full quorum', () => {
    const t = tallyApprovals(rule({ reviews: ['security', 'legal'] }), [approval('a'), approval('b')], [review('s', 'security')], bound);
    expect(t).toMatchObject({ decision: 'waiting', needed: 0, missingReviews: ['legal'] });
  });

  it('approves once quorum and every required review are in', () => {
    const t = tallyApprovals(
      rule({ reviews: ['security', 'legal'] }),
      [approval('a'), approval('b')],
      [review('s', 'security'), review('l', 'legal')],
      bound,
    );
    expect(t).toMatchObject({ decision: 'approved', missingReviews: [] });
  });

  it('a review rejection rejects', () => {
    const t = tallyApprovals(rule({ reviews: ['security'] }), [approval('a'), approval('b')], [review('s', 'security', 'reject')], bound);
    expect(t).toMatchObject({ decision: 'rejected', rejectedBy: 's', missingReviews: ['security'] });
  });

  it('a review of one kind does not satisfy another', () => {
    const t = tallyApprovals(rule({ required: 0, reviews: ['legal'] }), [], [review('s', 'security')], bound);
    expect(t).toMatchObject({ decision: 'waiting', missingReviews: ['legal'] });
  });

  it('reviews do not count as approvers', () => {
    const t = tallyApprovals(rule({ required: 1, reviews: ['security'] }), [], [review('s', 'security')], bound);
    expect(t).toMatchObject({ decision: 'waiting', approvers: [], needed: 1, missingReviews: [] });
  });

  it('treats approvals that never expire as counting', () => {
    const t = tallyApprovals(rule({ required: 1, expiresAfterMs: null }), [approval('a', { at: ago(1e4 * HOUR) })], [], bound);
    expect(t).toMatchObject({ decision: 'approved', approvers: ['a'], expired: 0 });
  });
});
