import type { EntityManager } from 'typeorm';
import type { LastError } from '#libs/db/index.js';
import { storableText } from '#libs/domain/index.js';

/** Long enough for a registry's error with its context; a reader's screen, not a log file. */
const MAX_MESSAGE = 1000;

/**
 * The error as every reader may see it: one bounded line of text that PostgreSQL can store (no NUL,
 * no lone surrogate: either would turn the record of an error into another error).
 */
export function lastErrorOf(message: string, step: string, attempt: number, at = new Date()): LastError {
  let text = storableText(message).replace(/\s+/g, ' ').trim() || 'unknown error';
  if (text.length > MAX_MESSAGE) text = `${text.slice(0, MAX_MESSAGE - 1)}…`;
  return { message: text, step, at: at.toISOString(), attempt: Math.max(1, Math.trunc(attempt)) };
}

/** Records the promotion's last error; its status is left to the state machine. */
export async function recordLastError(manager: EntityManager, promotionId: string, error: LastError): Promise<void> {
  await manager.query('UPDATE promotions SET last_error = $2, updated_at = now() WHERE id = $1', [promotionId, JSON.stringify(error)]);
}
