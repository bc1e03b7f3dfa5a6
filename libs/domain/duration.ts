import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `15m`, `24h`, `7d` (or a sum such as `1h30m`) into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(re)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed += match[0].length;
  }
  if (trimmed.length === 0 || consumed !== trimmed.length) {
    throw new Error(`'${text}' is not a duration (use e.g. 30s, 15m, 24h, 7d)`);
  }
  return Math.round(total);
}

function durationIssue(text: string): string | null {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    return 'must be a duration such as 30d or 12h';
  }
  return ms > 0 ? null : 'must be longer than zero';
}

/** A duration kept as written (it shows in evidence and messages); callers convert it with parseDuration. */
export const durationText = z.string().superRefine((text, ctx) => {
  const issue = durationIssue(text);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

/** A duration as milliseconds. */
export const durationMs = durationText.transform((text) => parseDuration(text));
