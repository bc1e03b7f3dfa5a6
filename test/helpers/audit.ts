import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { eventually } from './test-app.js';

export const AUDIT_ORIGIN = 'promoter.test/audit';

/** A fresh Ed25519 audit key pair on disk and the `audit:` block of a pipeline that uses it. */
export function auditKeyFiles(options: { everyEvents?: number; every?: string; publish?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'audit-key-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyPath = join(dir, 'audit.key');
  const pubPath = join(dir, 'audit.pub');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
  const block = `
audit:
  origin: ${AUDIT_ORIGIN}
  key: { path: ${keyPath}, publicPath: ${pubPath} }
  checkpoint: { everyEvents: ${options.everyEvents ?? 1000}, every: ${options.every ?? '1h'} }
${options.publish ?? ''}`;
  return { dir, keyPath, pubPath, privateKey, publicKey, block };
}

/** Waits until the integrator has linked every appended event into the tree. */
export async function integrated(db: pg.Pool, timeoutMs = 15_000): Promise<number> {
  return eventually(async () => {
    const { rows } = await db.query(
      'SELECT (SELECT count(*) FROM audit_unintegrated)::int AS queued, (SELECT size FROM audit_tree_head)::int AS size',
    );
    return rows[0].queued === 0 ? rows[0].size + 1 : false;
  }, timeoutMs).then((n) => n - 1);
}
