import type { PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { hasLoneSurrogate, ServiceError } from '#libs/domain/index.js';

function fieldOf(path: readonly PropertyKey[], what: string): string {
  return path.map(String).join('.') || what;
}

type TextProblem = 'must not contain a NUL character' | 'must not contain a lone UTF-16 surrogate (invalid Unicode)';

function problemOf(text: string): TextProblem | null {
  if (text.includes('\u0000')) return 'must not contain a NUL character';
  if (hasLoneSurrogate(text)) return 'must not contain a lone UTF-16 surrogate (invalid Unicode)';
  return null;
}

/**
 * The first string (key or value) PostgreSQL could not store, with its path. Recursive: the JSON
 * parser (json-body.ts) has bounded the depth before anything gets here.
 */
function badTextAt(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; problem: TextProblem } | null {
  if (typeof value === 'string') {
    const problem = problemOf(value);
    return problem ? { path, problem } : null;
  }
  if (value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    const problem = problemOf(key);
    if (problem) return { path: [...path, key], problem };
    const found = badTextAt(inner, [...path, key]);
    if (found) return found;
  }
  return null;
}

/**
 * Parses with a Zod schema; a failure is a 400 naming each field and what is wrong with it. A NUL
 * character or a lone surrogate is refused wherever it is: PostgreSQL can store neither in text
 * nor in jsonb, and would answer with an error (a 500) after half the work was done.
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what = 'body'): z.output<T> {
  const bad = badTextAt(value);
  if (bad) {
    const field = fieldOf(bad.path, what);
    throw new ServiceError('bad_request', `${field}: ${bad.problem}`, { in: what, issues: [{ field, message: bad.problem }] });
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
