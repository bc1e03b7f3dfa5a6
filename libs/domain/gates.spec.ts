import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { evidenceDigest, gatesReadyToStart, gatesVerdict, type GateOutcome, type GateStatus, type GatesVerdict } from './gates.js';

const g = (gate: string, status: GateStatus, evidence: string | null = null): GateOutcome => ({
  gate,
  status,
  evidenceDigest: evidence,
});

describe('gatesVerdict', () => {
  const cases: [string, GateStatus[], GatesVerdict][] = [
    ['no gates', [], 'passed'],
    ['all passed', ['passed', 'passed'], 'passed'],
    ['all waived', ['waived'], 'passed'],
    ['passed and waived', ['passed', 'waived'], 'passed'],
    ['one pending', ['pending'], 'pending'],
    ['pending with passed', ['passed', 'pending'], 'pending'],
    ['pending with failed', ['failed', 'pending'], 'pending'],
    ['pending with error', ['pending', 'error'], 'pending'],
    ['one failed', ['failed'], 'failed'],
    ['failed among passed', ['passed', 'failed', 'waived'], 'failed'],
    ['error counts as failed', ['error'], 'failed'],
    ['error among passed', ['passed', 'error'], 'failed'],
    ['failed and error', ['failed', 'error'], 'failed'],
  ];

  it.each(cases)('%s -> %s', (_label, statuses, verdict) => {
    expect(gatesVerdict(statuses.map((s, i) => g(`gate-${i}`, s)))).toBe(verdict);
  });
});

describe('evidenceDigest', () => {
  const results = [g('scan', 'passed', 'sha256:aa'), g('sign', 'passed', 'sha256:bb'), g('tests', 'waived')];

  it('is sha256 of the canonical JSON of the outcomes sorted by gate', () => {
    const json =
      '[{"evidenceDigest":"sha256:aa","gate":"scan","status":"passed"},' +
      '{"evidenceDigest":"sha256:bb","gate":"sign","status":"passed"},' +
      '{"evidenceDigest":null,"gate":"tests","status":"waived"}]';
    const expected = `sha256:${createHash('sha256').update(json).digest('hex')}`;
    expect(evidenceDigest(results)).toBe(expected);
    expect(evidenceDigest(results)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('does not depend on input order', () => {
    const base = evidenceDigest(results);
    const [a, b, c] = results as [GateOutcome, GateOutcome, GateOutcome];
    for (const order of [
      [a, c, b],
      [b, a, c],
      [b, c, a],
      [c, a, b],
      [c, b, a],
    ]) {
      expect(evidenceDigest(order)).toBe(base);
    }
  });

  it('does not depend on order even when a gate name repeats', () => {
    const x = g('scan', 'passed', 'sha256:1');
    const y = g('scan', 'failed', 'sha256:2');
    expect(evidenceDigest([x, y])).toBe(evidenceDigest([y, x]));
  });

  it('ignores fields other than gate, status and evidenceDigest', () => {
    const withExtras = results.map((r) => ({ ...r, finishedAt: new Date(), detail: 'noise' }));
    expect(evidenceDigest(withExtras)).toBe(evidenceDigest(results));
  });

  it.each([
    ['a status change', [g('scan', 'failed', 'sha256:aa'), results[1]!, results[2]!]],
    ['an evidence change', [g('scan', 'passed', 'sha256:cc'), results[1]!, results[2]!]],
    ['evidence appearing', [results[0]!, results[1]!, g('tests', 'waived', 'sha256:dd')]],
    ['a gate renamed', [g('scan2', 'passed', 'sha256:aa'), results[1]!, results[2]!]],
    ['a gate added', [...results, g('policy', 'passed')]],
    ['a gate removed', [results[0]!, results[1]!]],
  ])('changes on %s', (_label, changed) => {
    expect(evidenceDigest(changed)).not.toBe(evidenceDigest(results));
  });

  it('has a digest for no gates that differs from any gate', () => {
    expect(evidenceDigest([])).toBe(`sha256:${createHash('sha256').update('[]').digest('hex')}`);
    expect(evidenceDigest([])).not.toBe(evidenceDigest([g('scan', 'passed')]));
  });
});

describe('gatesReadyToStart', () => {
  it('starts every gate but policy while others are pending, and policy once it is the last', () => {
    expect(gatesReadyToStart(['policy', 'scan', 'signature'])).toEqual(['scan', 'signature']);
    expect(gatesReadyToStart(['scan', 'policy'])).toEqual(['scan']);
    expect(gatesReadyToStart(['policy'])).toEqual(['policy']);
    expect(gatesReadyToStart(['signature'])).toEqual(['signature']);
    expect(gatesReadyToStart([])).toEqual([]);
  });
});
