/** PostgreSQL's SQLSTATE for a unique-constraint violation, with the constraint it names. */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e?.code ?? e?.driverError?.code;
  if (code !== '23505') return null;
  return e.constraint ?? e.driverError?.constraint ?? '';
}
