import { describe, expect, it } from 'vitest';
import { formatBytes, lifecycleLines } from './lifecycle-log.js';

const ID = '0b7c1d2e-0000-4000-8000-000000000001';
const ev = (action: string, data: Record<string, unknown>, actor = 'system:worker') => ({
  action,
  subject: `promotion:${ID}`,
  actor,
  data,
});

describe('lifecycleLines', () => {
  it('says each step of a promotion in one line naming it', () => {
    const steps = [
      ev('promotion.requested', { image: 'reg/dev/web:1.0', target: 'staging', gates: ['scan'] }, 'token:ci'),
      ev('gate.failed', { gate: 'scan', summary: '2 critical vulnerabilities' }),
      ev('promotion.blocked', { gates: ['scan'] }),
      ev('promotion.awaiting_approval', {}),
      ev(
        'approval.approve',
        { via: 'slack', comment: 'ok', actor: { person: 'alice', name: 'alice-laptop', kind: 'person', credential: null } },
        'token:1',
      ),
      ev('promotion.approved', { approvers: ['alice'] }),
      ev('promotion.promoting', { digest: 'sha256:ab' }),
      ev('promotion.failed', { error: 'registry unavailable after 4 attempts' }),
    ].map((e) => lifecycleLines(e));
    expect(steps.map((lines) => lines.map((l) => [l.level, l.step, l.msg]))).toEqual([
      [['log', 'requested', `promotion ${ID} requested by token:ci: reg/dev/web:1.0 → staging (gates: scan)`]],
      [['log', 'gate.failed', `promotion ${ID} scan gate failed: 2 critical vulnerabilities`]],
      [['warn', 'blocked', `promotion ${ID} blocked by the scan gate(s)`]],
      [['log', 'awaiting_approval', `promotion ${ID} passed its gates; awaiting approval`]],
      [['log', 'approval.approve', `promotion ${ID} approval by alice via slack: ok`]],
      [['log', 'approved', `promotion ${ID} approved by alice`]],
      [['log', 'copy.started', `promotion ${ID} copy started: sha256:ab`]],
      [['warn', 'failed', `promotion ${ID} failed: registry unavailable after 4 attempts`]],
    ]);
    expect(steps.flat().every((l) => l.promotionId === ID)).toBe(true);
  });

  it('gives a finished copy its size and time, and the signing its own line', () => {
    const started = new Date('2026-12-02T07:00:00.000Z');
    const lines = lifecycleLines(
      ev('promotion.promoted', {
        target: 'reg/staging/web@sha256:ab',
        tags: ['1.0'],
        blobsCopied: 3,
        blobsMounted: 1,
        blobsSkipped: 0,
        bytesCopied: 5 * 1024 * 1024,
        signing: { signed: true, keyId: 'abc123', signature: {}, attestations: [{}, {}, {}] },
      }),
      started,
      new Date('2026-12-02T07:00:02.500Z'),
    );
    expect(lines.map((l) => [l.step, l.msg])).toEqual([
      ['copy.finished', `promotion ${ID} copy finished: 5.0 MiB in 3 blob(s) copied, 1 mounted, 0 already there in 2.5 s`],
      ['signed', `promotion ${ID} signed with key abc123: a signature and 3 attestation(s)`],
      ['promoted', `promotion ${ID} promoted: reg/staging/web@sha256:ab (tags 1.0)`],
    ]);
  });

  it('leaves out events that are not steps of a promotion', () => {
    expect(lifecycleLines({ action: 'token.created', subject: 'token:1', actor: 'bootstrap', data: { name: 'ci' } })).toEqual([]);
    expect(lifecycleLines(ev('promotion.evaluating', {}))).toEqual([]);
  });

  it('formats sizes', () => {
    expect([formatBytes(512), formatBytes(2048), formatBytes(3 * 1024 ** 3)]).toEqual(['512 B', '2.0 KiB', '3.0 GiB']);
  });
});
