import { describe, expect, it } from 'vitest';
import {
  PROMOTION_STATUSES,
  STATUS_GROUPS,
  TERMINAL_STATUSES,
  isExpirable,
  isPromotionStatus,
  isStuck,
  isTerminal,
  owedWork,
} from './promotion-status.js';

describe('isTerminal', () => {
  it.each(['promoted', 'rejected', 'cancelled', 'expired'] as const)('%s is terminal', (s) => {
    expect(isTerminal(s)).toBe(true);
  });

  it.each(['pending', 'evaluating', 'awaiting_approval', 'approved', 'promoting', 'blocked', 'failed'] as const)(
    '%s is not terminal',
    (s) => {
      expect(isTerminal(s)).toBe(false);
    },
  );

  it('terminal statuses are all known statuses', () => {
    expect(TERMINAL_STATUSES.every((s) => PROMOTION_STATUSES.includes(s))).toBe(true);
  });
});

describe('isPromotionStatus', () => {
  it.each(PROMOTION_STATUSES)('accepts %s', (s) => {
    expect(isPromotionStatus(s)).toBe(true);
  });

  it.each(['', 'PENDING', 'done', 'awaiting-approval', 'toString'])('refuses %j', (s) => {
    expect(isPromotionStatus(s)).toBe(false);
  });
});

describe('status groups', () => {
  it('says what the service owes in each status', () => {
    const owes = Object.fromEntries(PROMOTION_STATUSES.map((s) => [s, owedWork(s)]));
    expect(owes).toEqual({
      pending: 'gates',
      evaluating: 'gates',
      awaiting_approval: 'nothing',
      approved: 'copy',
      promoting: 'copy',
      promoted: 'nothing',
      rejected: 'nothing',
      blocked: 'nothing',
      failed: 'nothing',
      cancelled: 'nothing',
      expired: 'nothing',
    });
  });

  it('lists each group in status order', () => {
    expect(STATUS_GROUPS).toEqual({
      live: ['pending', 'evaluating', 'awaiting_approval', 'approved', 'promoting'],
      owesGates: ['pending', 'evaluating'],
      owesCopy: ['approved', 'promoting'],
      stuck: ['blocked', 'failed'],
      terminal: ['promoted', 'rejected', 'cancelled', 'expired'],
      expirable: ['awaiting_approval', 'blocked'],
    });
  });

  it('puts every status in exactly one of live, stuck and terminal', () => {
    const phases = [...STATUS_GROUPS.live, ...STATUS_GROUPS.stuck, ...STATUS_GROUPS.terminal];
    expect([...phases].sort()).toEqual([...PROMOTION_STATUSES].sort());
  });

  it('owes work only in live statuses', () => {
    for (const s of [...STATUS_GROUPS.owesGates, ...STATUS_GROUPS.owesCopy]) expect(STATUS_GROUPS.live).toContain(s);
  });

  it.each(['blocked', 'failed'] as const)('%s is stuck', (s) => expect(isStuck(s)).toBe(true));
  it.each(['pending', 'approved', 'promoted', 'expired'] as const)('%s is not stuck', (s) => expect(isStuck(s)).toBe(false));
  it('expires only statuses waiting on people', () => {
    expect(PROMOTION_STATUSES.filter(isExpirable)).toEqual(['awaiting_approval', 'blocked']);
  });
});

describe('the migration', () => {
  it('allows exactly the statuses the domain knows', async () => {
    const { readFile } = await import('node:fs/promises');
    const sql = await readFile(new URL('../../migrations/1764000000000-initial.ts', import.meta.url), 'utf8');
    const check = /status\s+text NOT NULL CHECK \(status IN \(([^)]*)\)\)/.exec(sql.replace(/\s*\n\s*/g, ' '));
    expect(check).not.toBeNull();
    const allowed = check![1]!.split(',').map((s) => s.trim().replace(/'/g, ''));
    expect(allowed).toEqual([...PROMOTION_STATUSES]);
  });
});
