import { describe, expect, it } from 'vitest';
import type { PromotionView } from '#libs/workflow/index.js';
import { allowedResponseUrl } from './slack-api.js';
import { approvalMessage, decodeButtonValue, encodeButtonValue, escapeMrkdwn, eventMessage } from './slack-message.js';

const DIGEST = 'sha256:' + 'ab'.repeat(32);

function view(over: Partial<PromotionView> = {}): PromotionView {
  return {
    id: '0b7c3d4e-1111-4222-8333-944455566677',
    image: `registry.local/dev/web@${DIGEST}`,
    repository: 'registry.local/dev/web',
    digest: DIGEST,
    app: 'web',
    source: 'staging',
    target: 'prod',
    targetRepository: 'registry.local/prod/web',
    targetTag: '1.2.0',
    status: 'awaiting_approval',
    reason: 'release <!channel> & co',
    requestedBy: { id: 'token:1', name: 'ci-main' },
    round: 1,
    evidenceDigest: 'sha256:' + 'cd'.repeat(32),
    expiresAt: null,
    createdAt: '2026-11-24T10:00:00.000Z',
    updatedAt: '2026-11-24T10:00:00.000Z',
    gates: [
      { gate: 'scan', status: 'passed', summary: 'no critical findings', evidence: {}, evidenceDigest: null, round: 1, updatedAt: '' },
      { gate: 'signature', status: 'waived', summary: 'waived by sam', evidence: {}, evidenceDigest: null, round: 1, updatedAt: '' },
    ],
    approvals: [
      {
        id: 'a1',
        approver: { id: 'alice', name: 'alice' },
        decision: 'approve',
        comment: '',
        via: 'slack',
        digest: DIGEST,
        evidenceDigest: '',
        at: '',
        counts: true,
      },
    ],
    reviews: [],
    approval: {
      required: 2,
      roles: ['release-manager'],
      reviews: ['security'],
      approvers: ['alice'],
      needed: 1,
      missingReviews: ['security'],
      stale: 0,
      expired: 0,
      rejectedBy: null,
    },
    ...over,
  } as PromotionView;
}

const texts = (blocks: unknown[]) => JSON.stringify(blocks);

describe('the approval message', () => {
  it('shows image, short digest, source → target, requester, reason, gates, approvals and the two buttons', () => {
    const { text, blocks } = approvalMessage(view());
    expect(text).toContain('registry.local/dev/web@abababababab');
    const all = texts(blocks);
    expect(all).toContain('`registry.local/dev/web@sha256:abababababab`');
    expect(all).toContain('staging → prod');
    expect(all).toContain('ci-main');
    expect(all).toContain('release &lt;!channel&gt; &amp; co');
    expect(all).toContain('*scan*: passed — no critical findings');
    expect(all).toContain('*signature*: waived');
    expect(all).toContain('1 of 2 (alice) · 1 more needed from: release-manager · reviews missing: security');
    const actions = blocks.find((b) => b.type === 'actions')!;
    expect(actions.elements.map((e: { action_id: string; style: string }) => [e.action_id, e.style])).toEqual([
      ['promotion.approve', 'primary'],
      ['promotion.reject', 'danger'],
    ]);
    expect(decodeButtonValue(actions.elements[0].value)).toEqual({
      promotionId: view().id,
      digest: DIGEST,
      evidenceDigest: view().evidenceDigest,
    });
  });

  it.each(['approved', 'promoting', 'promoted', 'rejected', 'blocked', 'expired', 'cancelled', 'failed'] as const)(
    'has no buttons once %s',
    (status) => {
      const { blocks } = approvalMessage(view({ status }));
      expect(blocks.some((b) => b.type === 'actions')).toBe(false);
      expect(blocks[0]!.text.text).toBe(`Promotion to prod: ${status}`);
    },
  );

  it('keeps every text block within Slack limits for long inputs', () => {
    const long = 'x'.repeat(10_000);
    const { blocks } = approvalMessage(
      view({
        reason: long,
        gates: Array.from({ length: 30 }, (_, i) => ({
          gate: `g${i}`,
          status: 'failed',
          summary: long,
          evidence: {},
          evidenceDigest: null,
          round: 1,
          updatedAt: '',
        })),
      }),
    );
    for (const b of blocks) if (b.text?.type === 'mrkdwn') expect(b.text.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('notices', () => {
  it('a blocked promotion names the failing gates', () => {
    const blocked = view({
      status: 'blocked',
      gates: [{ gate: 'scan', status: 'failed', summary: '3 critical', evidence: {}, evidenceDigest: null, round: 1, updatedAt: '' }],
    });
    const { text, blocks } = eventMessage(blocked, 'blocked');
    expect(text).toMatch(/: blocked$/);
    expect(texts(blocks)).toContain('*scan*: 3 critical');
  });

  it('a failed one says why: the step, the attempt and the error, escaped', () => {
    const lastError = { message: 'registry answered 503 <Service Unavailable>', step: 'copy', at: '2026-11-24T10:05:00.000Z', attempt: 5 };
    const all = texts(eventMessage(view({ status: 'failed', lastError }), 'failed').blocks);
    expect(all).toContain('*copy* (attempt 5, 2026-11-24T10:05:00.000Z): registry answered 503 &lt;Service Unavailable&gt;');
    expect(all).toContain('promoctl retry');
  });

  it('a promoted one names where it went', () => {
    expect(texts(eventMessage(view({ status: 'promoted' }), 'promoted').blocks)).toContain('registry.local/prod/web:1.2.0');
  });
});

describe('helpers', () => {
  it('button values round-trip and junk decodes to null', () => {
    const v = { promotionId: 'p', digest: DIGEST, evidenceDigest: null };
    expect(decodeButtonValue(encodeButtonValue(v))).toEqual(v);
    expect(decodeButtonValue('not json')).toBeNull();
    expect(decodeButtonValue('{"p":1,"d":"x","e":null}')).toBeNull();
  });

  it('escapes the three characters Slack treats as markup', () => {
    expect(escapeMrkdwn('<@U1> & <https://evil|click>')).toBe('&lt;@U1&gt; &amp; &lt;https://evil|click&gt;');
  });

  it('replies only to hooks.slack.com over https, or to the configured API origin', () => {
    expect(allowedResponseUrl('https://hooks.slack.com/actions/T1/2/3', 'https://slack.com/api/')).toBe(true);
    expect(allowedResponseUrl('http://hooks.slack.com/actions/T1/2/3', 'https://slack.com/api/')).toBe(false);
    expect(allowedResponseUrl('https://169.254.169.254/latest', 'https://slack.com/api/')).toBe(false);
    expect(allowedResponseUrl('http://127.0.0.1:4000/actions/x', 'http://127.0.0.1:4000/api/')).toBe(true);
    expect(allowedResponseUrl('http://127.0.0.1:4001/actions/x', 'http://127.0.0.1:4000/api/')).toBe(false);
    expect(allowedResponseUrl('not a url', 'https://slack.com/api/')).toBe(false);
  });
});
