/** A scanner report the promoter refuses: `malformed` (not the format it claims) or `wrong_digest`. */
export class ReportError extends Error {
  override readonly name = 'ReportError';
  constructor(
    readonly code: 'malformed' | 'wrong_digest' | 'unsigned',
    message: string,
  ) {
    super(message);
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A required string field, or a ReportError naming where it is missing. */
export function str(obj: Record<string, unknown>, key: string, at: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) throw new ReportError('malformed', `${at}.${key} must be a non-empty string`);
  return v;
}

export function optStr(obj: Record<string, unknown>, key: string): string | null {
  const v = obj[key];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

export function arr(obj: Record<string, unknown>, key: string, at: string, required = false): unknown[] {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new ReportError('malformed', `${at}.${key} is missing`);
    return [];
  }
  if (!Array.isArray(v)) throw new ReportError('malformed', `${at}.${key} must be an array`);
  return v;
}
