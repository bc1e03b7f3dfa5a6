import { describe, expect, it } from 'vitest';
import type { EnvironmentConfig } from '#libs/config/index.js';
import { promotionPredicate, verificationSummary } from './promotion-attestations.js';
import type { PromotionRecord } from './promotion-state.service.js';

const digest = 'sha256:' + 'a'.repeat(64);
const t = (s: string) => new Date(`2026-11-24T${s}Z`);

function record(overrides: Partial<PromotionRecord> = {}): PromotionRecord {
  return {
    promotion: {
      id: 'p1',
      repository: 'reg/staging/web',
      digest,
      source: 'staging',
      target: 'prod',
      targetRepository: 'reg/prod/web',
      round: 2,
      requestedBy: 'token:ci',
      requestedByName: 'ci',
      reason: 'release',
      evidenceDigest: 'sha256:' + 'e'.repeat(64),
      createdAt: t('10:00:00'),
    },
    gates: [
      { gate: 'scan', status: 'passed', summary: 'clean', evidenceDigest: 'sha256:' + '1'.repeat(64), updatedAt: t('10:01:00') },
      { gate: 'policy', status: 'waived', summary: 'waived', evidenceDigest: 'sha256:' + '2'.repeat(64), updatedAt: t('10:02:00') },
    ],
    approvals: [
      {
        id: 'b',
        approverId: 'oidc:bob',
        approverName: 'Bob',
        decision: 'approve',
        channel: 'slack',
        evidenceDigest: 'sha256:' + 'e'.repeat(64),
        createdAt: t('10:05:00'),
      },
      {
        id: 'a',
        approverId: 'oidc:ann',
        approverName: 'Ann',
        decision: 'approve',
        channel: 'api',
        evidenceDigest: 'sha256:' + 'e'.repeat(64),
        createdAt: t('10:04:00'),
      },
    ],
    reviews: [
      {
        id: 'r',
        reviewerId: 'oidc:sue',
        reviewerName: 'Sue',
        kind: 'security',
        verdict: 'approve',
        channel: 'cli',
        evidenceDigest: 'sha256:' + 'e'.repeat(64),
        createdAt: t('10:03:00'),
      },
    ],
    ...overrides,
  } as unknown as PromotionRecord;
}

const env = {
  name: 'prod',
  from: 'staging',
  gates: { scan: {}, policy: {} },
  approvals: { required: 2, roles: ['release-manager'] },
  reviews: ['security'],
} as unknown as EnvironmentConfig;

describe('the promotion attestations', () => {
  it('VSA: time from the last stored decision, gates as input attestations, the environment as policy', () => {
    const vsa = verificationSummary(record(), env);
    expect(vsa.timeVerified).toBe('2026-11-24T10:05:00.000Z');
    expect(vsa.resourceUri).toBe(`reg/prod/web@${digest}`);
    expect(vsa.verificationResult).toBe('PASSED');
    expect(vsa.inputAttestations.map((i) => [i.uri.split('/').slice(-2).join('/'), i.digest.sha256])).toEqual([
      ['gates/policy', '2'.repeat(64)],
      ['gates/scan', '1'.repeat(64)],
    ]);
    expect(vsa.verifiedLevels).toEqual(['IMAGE_PROMOTER_GATE_POLICY', 'IMAGE_PROMOTER_GATE_SCAN', 'IMAGE_PROMOTER_APPROVED']);
    // A different policy is a different policy digest.
    expect(verificationSummary(record(), { ...env, reviews: [] }).policy.digest.sha256).not.toBe(vsa.policy.digest.sha256);
  });

  it('is the same for the same stored facts, however often it is built (retries add nothing)', () => {
    expect(JSON.stringify(verificationSummary(record(), env))).toBe(JSON.stringify(verificationSummary(record(), env)));
    expect(JSON.stringify(promotionPredicate(record(), ['b', 'a'], true))).toBe(
      JSON.stringify(promotionPredicate(record(), ['a', 'b'], true)),
    );
  });

  it('promotion record: source and target, gates, approvals oldest first with principal, decision, channel and time', () => {
    const p = promotionPredicate(record(), ['1.0'], false);
    expect(p.source).toEqual({ environment: 'staging', reference: `reg/staging/web@${digest}`, digest });
    expect(p.target).toEqual({ environment: 'prod', reference: `reg/prod/web@${digest}`, digest, tags: ['1.0'] });
    expect(p.gates.map((g) => [g.gate, g.status])).toEqual([
      ['policy', 'waived'],
      ['scan', 'passed'],
    ]);
    expect(p.approvals).toEqual([
      {
        kind: 'approval',
        principal: { id: 'oidc:ann', name: 'Ann' },
        decision: 'approve',
        via: 'api',
        time: '2026-11-24T10:04:00.000Z',
        evidenceDigest: 'sha256:' + 'e'.repeat(64),
      },
      {
        kind: 'approval',
        principal: { id: 'oidc:bob', name: 'Bob' },
        decision: 'approve',
        via: 'slack',
        time: '2026-11-24T10:05:00.000Z',
        evidenceDigest: 'sha256:' + 'e'.repeat(64),
      },
    ]);
    expect(p.reviews).toEqual([expect.objectContaining({ kind: 'security', principal: { id: 'oidc:sue', name: 'Sue' }, via: 'cli' })]);
    expect(p.signed).toBe(false);
  });
});
