import { chmod, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { generateCosignKeyPair } from '#libs/signing/index.js';
import { CliError, type CommandEnv } from '../context.js';

interface KeygenOptions {
  outputKeyPrefix: string;
  force?: boolean;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Like `cosign generate-key-pair`: an encrypted ECDSA P-256 key (mode 0600) and its public key. */
export function registerKeygen(program: Command, env: CommandEnv): void {
  program
    .command('keygen')
    .description(
      'write a cosign-compatible key pair (cosign.key, cosign.pub) into the current directory; password from $PROMOTER_KEY_PASSWORD (may be empty)',
    )
    .option('--output-key-prefix <prefix>', 'file name prefix, as cosign names it', 'cosign')
    .option('--force', 'overwrite existing key files')
    .action(async (opts: KeygenOptions) => {
      const keyPath = resolve(`${opts.outputKeyPrefix}.key`);
      const pubPath = resolve(`${opts.outputKeyPrefix}.pub`);
      if (!opts.force) {
        for (const p of [keyPath, pubPath])
          if (await exists(p)) throw new CliError(`error: ${p} already exists; pass --force to overwrite it`);
      }
      const password = env.io.env.PROMOTER_KEY_PASSWORD ?? '';
      const pair = await generateCosignKeyPair(password);
      // `wx` unless forced: a file created between the check and here is not clobbered either.
      const flag = opts.force ? 'w' : 'wx';
      await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag });
      await chmod(keyPath, 0o600);
      await writeFile(pubPath, pair.publicKeyPem, { mode: 0o644, flag });
      env.io.stdout(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\nKey id ${pair.keyId}\n`);
      if (password === '') env.io.stderr('warning: PROMOTER_KEY_PASSWORD is empty: the private key is encrypted with an empty password\n');
      env.done(0);
    });
}
