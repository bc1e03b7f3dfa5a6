import { describe, expect, it } from 'vitest';
import type { ApprovalRecord, ApprovalRule, Bound, ReviewRecord } from './approval-rule.js';
import { openDecisions } from './open-decisions.js';

const NOW = new Date('2024-06-01T12:00:00.000Z');
const bound: Bound = { digest: 'sha256:image', evidenceDigest: 'sha256:evidence', now: NOW };
const rule: ApprovalRule = { required: 2, roles: ['release-manager'], expiresAfterMs: 3_600_000, reviews: ['security', 'legal'] };
const at = new Date(NOW.getTime() - 60_000);
const approval = (approverId: string, over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  approverId,
  decision: 'approve',
  digest: bound.digest,
  evidenceDigest: bound.evidenceDigest,
  at,
  ...over,
});
const review = (reviewerId: string, kind: string, over: Partial<ReviewRecord> = {}): ReviewRecord => ({
  reviewerId,
  kind,
  verdict: 'approve',
  digest: bound.digest,
  evidenceDigest: bound.evidenceDigest,
  at,
  ...over,
});
const rm = { id: 'alice', roles: ['release-manager'], mayReview: false };
const sec = { id: 'sam', roles: ['security-reviewer'], mayReview: true };

describe('openDecisions', () => {
  it('an approver with an allowed role may approve until enough approvals count', () => {
    expect(openDecisions(rule, 'ci', rm, [], [], bound)).toEqual({ approve: true, reviews: [] });
    expect(openDecisions(rule, 'ci', rm, [approval('bob')], [], bound).approve).toBe(true);
    expect(openDecisions({ ...rule, reviews: [] }, 'ci', rm, [approval('bob'), approval('carol')], [], bound).approve).toBe(false);
  });

  it('nothing for the requester, nothing twice on the same evidence, again once a decision went stale or expired', () => {
    expect(openDecisions(rule, 'alice', rm, [], [], bound)).toEqual({ approve: false, reviews: [] });
    expect(openDecisions(rule, 'ci', rm, [approval('alice')], [], bound).approve).toBe(false);
    expect(openDecisions(rule, 'ci', rm, [approval('alice', { evidenceDigest: 'sha256:old' })], [], bound).approve).toBe(true);
    expect(openDecisions(rule, 'ci', rm, [approval('alice', { at: new Date(NOW.getTime() - 7_200_000) })], [], bound).approve).toBe(true);
  });

  it('a role the environment does not name gives no approval to make', () => {
    expect(openDecisions(rule, 'ci', { id: 'dan', roles: ['ci', 'auditor'], mayReview: false }, [], [], bound)).toEqual({
      approve: false,
      reviews: [],
    });
  });

  it('a reviewer is offered the missing kinds they have not reviewed', () => {
    expect(openDecisions(rule, 'ci', sec, [], [], bound).reviews).toEqual(['security', 'legal']);
    expect(openDecisions(rule, 'ci', sec, [], [review('tom', 'security')], bound).reviews).toEqual(['legal']);
    expect(
      openDecisions(rule, 'ci', sec, [], [review('sam', 'legal', { verdict: 'approve', evidenceDigest: 'sha256:evidence' })], bound)
        .reviews,
    ).toEqual(['security']);
    expect(openDecisions(rule, 'ci', { ...sec, mayReview: false }, [], [], bound).reviews).toEqual([]);
  });
});
