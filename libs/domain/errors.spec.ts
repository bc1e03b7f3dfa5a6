import { describe, expect, it } from 'vitest';
import { DomainError, PromotionError } from './errors.js';

describe('PromotionError', () => {
  it('is a DomainError and an Error carrying code, message and details', () => {
    const err = new PromotionError('self_approval', 'no', { approverId: 'u1' });
    expect(err).toBeInstanceOf(PromotionError);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('self_approval');
    expect(err.message).toBe('no');
    expect(err.details).toEqual({ approverId: 'u1' });
  });

  it('takes its name from the concrete class', () => {
    expect(new PromotionError('invalid_transition', 'x').name).toBe('PromotionError');
    expect(new DomainError('whatever', 'x').name).toBe('DomainError');
  });

  it('leaves details undefined when none are given', () => {
    expect(new DomainError('c', 'm').details).toBeUndefined();
  });
});
