import { createHash } from 'node:crypto';

/**
 * RFC 8785-style canonical JSON, so the same data always hashes to the same digest.
 * Values JSON cannot represent faithfully are refused rather than silently altered.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, new Set());
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function encode(value: unknown, ancestors: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object':
      return encodeObject(value, ancestors);
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}

function encodeObject(value: object, ancestors: Set<object>): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  // Maps and Sets would otherwise encode as {} and collide with each other in a digest.
  if (value instanceof Map || value instanceof Set) {
    throw new TypeError(`canonicalJson: a ${value.constructor.name} has no JSON form`);
  }
  if (ancestors.has(value)) throw new TypeError('canonicalJson: cyclic structure');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item) => (item === undefined ? 'null' : encode(item, ancestors))).join(',')}]`;
    }
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], ancestors)}`).join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}
