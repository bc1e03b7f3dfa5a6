import { describe, expect, it } from 'vitest';
import { durationMs, durationText } from './duration.js';

describe('duration schemas', () => {
  it('keeps the text or gives milliseconds', () => {
    expect(durationText.parse('1h30m')).toBe('1h30m');
    expect(durationMs.parse('1h30m')).toBe(5_400_000);
  });

  it.each([
    ['soon', 'must be a duration such as 30d or 12h'],
    ['0s', 'must be longer than zero'],
  ])('refuses %j with one message everywhere', (text, message) => {
    for (const schema of [durationText, durationMs]) {
      const r = schema.safeParse(text);
      expect(r.success).toBe(false);
      expect(r.error!.issues.map((i) => i.message)).toEqual([message]);
    }
  });
});
