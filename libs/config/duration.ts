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
