/**
 * Debian control-file stanzas (dpkg status, status.d): `Field: value` lines, continuation lines
 * starting with a space or tab, stanzas separated by blank lines. Field names are case-insensitive
 * (kept as written, looked up lower-cased).
 */
export function* stanzas(text: string): Generator<Map<string, string>> {
  let fields = new Map<string, string>();
  let last: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      if (fields.size > 0) yield fields;
      fields = new Map();
      last = null;
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (last !== null) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    fields.set(last, line.slice(colon + 1).trim());
  }
  if (fields.size > 0) yield fields;
}

/** The header block of a Python METADATA / PKG-INFO file (stops at the first blank line: the body follows). */
export function headers(text: string): Map<string, string> {
  const first = stanzas(text.split(/\r?\n\r?\n/, 1)[0]).next();
  return first.done ? new Map() : first.value;
}
