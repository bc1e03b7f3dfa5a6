import { ServiceError } from '#libs/domain/index.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: a base64url sequence number. */
export function encodeCursor(seq: string | number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const seq = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,17}$/.test(seq)) throw new ServiceError('bad_request', 'cursor: not a cursor this API returned', { field: 'cursor' });
  return seq;
}
