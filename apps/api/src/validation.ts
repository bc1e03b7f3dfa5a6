import type { PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { ServiceError } from '../../../libs/domain/index.js';

function fieldOf(path: readonly PropertyKey[], what: string): string {
  return path.map(String).join('.') || what;
}

/** The path of the first string (key or value) holding a NUL character, or null. */
function nulAt(value: unknown, path: PropertyKey[] = []): PropertyKey[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\u0000')) return [...path, key];
    const found = nulAt(inner, [...path, key]);
    if (found) return found;
  }
  return null;
}

/**
 * Parses with a Zod schema; a failure is a 400 naming each field and what is wrong with it. A NUL
 * character is refused wherever it is: PostgreSQL can store it neither in text nor in jsonb.
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what = 'body'): z.output<T> {
  const nul = nulAt(value);
  if (nul) {
    const field = fieldOf(nul, what);
    throw new ServiceError('bad_request', `${field}: must not contain a NUL character`, { in: what, issues: [{ field, message: 'must not contain a NUL character' }] });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    field: fieldOf(i.path, what),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  throw new ServiceError('bad_request', issues.map((i) => `${i.field}: ${i.message}`).join('; '), { in: what, issues });
}

export class ZodPipe<T extends z.ZodType> implements PipeTransform<unknown, z.output<T>> {
  constructor(
    private readonly schema: T,
    private readonly what = 'body',
  ) {}
  transform(value: unknown): z.output<T> {
    return parseInput(this.schema, value, this.what);
  }
}

export const uuidParam = new ZodPipe(z.uuid({ error: 'must be a promotion id (a UUID)' }), 'path');
export const limitSchema = z.coerce.number().int().min(1).max(500).default(50);
