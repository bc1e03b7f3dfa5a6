import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AppConfig } from '#libs/config/index.js';
import { noteVerifier, type NoteVerifier } from '#libs/tlog/index.js';
import { HOLDS_SIGNING_KEY } from '../core.module.js';

/** The audit key: the verifier everywhere it is configured, the private key only where checkpoints are signed. */
export interface AuditKey {
  verifier: NoteVerifier;
  /** Null in a process that does not sign (the API alone). */
  privateKey: KeyObject | null;
}

export const AUDIT_KEY = Symbol('AUDIT_KEY');

/** Loads `audit.key`; a wrong file is reported with its config key and path, never its content. */
export function loadAuditKey(config: AppConfig, signs: boolean): AuditKey | null {
  const audit = config.pipeline.audit;
  if (!audit.key) return null;
  const base = dirname(config.process.configPath);
  const read = (what: string, path: string) => {
    try {
      return readFileSync(resolve(base, path));
    } catch (err) {
      throw new Error(`audit.key.${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
        cause: err,
      });
    }
  };
  let privateKey: KeyObject | null = null;
  let publicKey: KeyObject | null = null;
  if (audit.key.publicPath) {
    try {
      publicKey = createPublicKey(read('publicPath', audit.key.publicPath));
    } catch (err) {
      if ((err as Error).message.startsWith('audit.key')) throw err;
      throw new Error(`audit.key.publicPath: ${audit.key.publicPath} is not a PEM public key`, { cause: err });
    }
  }
  // The API reads the private key only when no public key file is named (one process for both).
  if (signs || !publicKey) {
    try {
      privateKey = createPrivateKey(read('path', audit.key.path));
    } catch (err) {
      if ((err as Error).message.startsWith('audit.key')) throw err;
      throw new Error(`audit.key.path: ${audit.key.path} is not an unencrypted PKCS#8 PEM private key`, { cause: err });
    }
  }
  const key = privateKey ?? publicKey!;
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`audit.key: the audit key must be Ed25519, not ${key.asymmetricKeyType}`);
  const verifier = noteVerifier(audit.origin, key);
  if (privateKey && publicKey && noteVerifier(audit.origin, publicKey).vkey !== verifier.vkey) {
    throw new Error('audit.key: publicPath is not the public half of path');
  }
  return { verifier, privateKey: signs ? privateKey : null };
}

export const auditKeyProvider = {
  provide: AUDIT_KEY,
  inject: [AppConfig, HOLDS_SIGNING_KEY],
  useFactory: (config: AppConfig, signs: boolean): AuditKey | null => {
    const key = loadAuditKey(config, signs);
    if (key) new Logger('Audit').log(`audit checkpoints ${key.privateKey ? 'signed' : 'verified'} with ${key.verifier.vkey}`);
    return key;
  },
};
