import { dirname, resolve } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '#libs/config/index.js';
import { pinnedImage, RegistryClient } from '#libs/registry/index.js';
import {
  loadKeySigner,
  RegistrySigner,
  type AttestationInput,
  type AttestationWritten,
  type SignatureWritten,
  type Signer,
} from '#libs/signing/index.js';
import { HOLDS_SIGNING_KEY } from './core.module.js';

/** The service's signer, or null when the pipeline configures no `signing` key. */
export const SIGNER = Symbol('SIGNER');

/** An image by its `host[:port]/repository` name (as promotions store it) and digest. */
export interface AttestationTarget {
  repository: string;
  digest: string;
}

const loaded = new WeakMap<AppConfig, Promise<Signer | null>>();

/**
 * The signer `signing.key` names, loaded once per config (boot checks it before Nest starts, the
 * provider reuses it). An unreadable key or a wrong password rejects with a message naming the
 * key path, never the password.
 */
export function loadConfiguredSigner(config: AppConfig): Promise<Signer | null> {
  let signer = loaded.get(config);
  if (!signer) {
    signer = loadSigner(config);
    loaded.set(config, signer);
  }
  return signer;
}

async function loadSigner(config: AppConfig): Promise<Signer | null> {
  const key = config.pipeline.signing?.key;
  if (!key) return null;
  // Relative paths are relative to the pipeline file, which is usually kept next to its keys.
  const base = dirname(config.process.configPath);
  // An empty password is a valid cosign password: only an unset variable is an error.
  if (key.passwordEnv && !key.passwordFile && config.signingPassword === null) {
    throw new Error(`signing.key.passwordEnv: environment variable ${key.passwordEnv} is not set`);
  }
  try {
    return await loadKeySigner({
      path: resolve(base, key.path),
      password: config.signingPassword,
      passwordFile: key.passwordFile ? resolve(base, key.passwordFile) : null,
    });
  } catch (err) {
    throw new Error(`signing.key: ${(err as Error).message}`, { cause: err });
  }
}

export const signerProvider = {
  provide: SIGNER,
  inject: [AppConfig, HOLDS_SIGNING_KEY],
  useFactory: async (config: AppConfig, holdsKey: boolean): Promise<Signer | null> => {
    // The API alone never signs, so it never reads the key (nor needs it mounted).
    if (!holdsKey) return null;
    const signer = await loadConfiguredSigner(config);
    if (signer) new Logger('Signing').log(`signing with the ${signer.algorithm} key ${signer.keyId}`);
    return signer;
  },
};

/**
 * Signs and attests images in the pipeline's registries with the service key, cosign-compatibly.
 * Every method answers null when no signing key is configured: nothing is written then.
 */
@Injectable()
export class AttestationService {
  private readonly writer: RegistrySigner | null;
  /** The write in progress per tag (`<repository>@<digest> .sig|.att`), which the next one waits for. */
  private readonly writing = new Map<string, Promise<unknown>>();

  constructor(registry: RegistryClient, @Inject(SIGNER) signer: Signer | null) {
    this.writer = signer ? new RegistrySigner(registry, signer) : null;
  }

  get enabled(): boolean {
    return this.writer !== null;
  }

  /** cosign's key hint of the service key (base64 sha256 of its SPKI), or null. */
  get keyId(): string | null {
    return this.writer?.signer.keyId ?? null;
  }

  /** Appends a signature over the digest (payload naming this repository) to its `.sig` tag; once per key. */
  async sign(target: AttestationTarget, signal?: AbortSignal): Promise<SignatureWritten | null> {
    const writer = this.writer;
    return writer ? this.oneAtATime(target, 'sig', () => writer.sign(imageOf(target), signal)) : null;
  }

  /**
   * Attaches an in-toto statement (subject: this repository and digest) with any predicate, signed in
   * a DSSE envelope: a `.att` layer and a sigstore bundle referrer. The same predicate again is a no-op.
   */
  async attest(
    target: AttestationTarget,
    predicateType: string,
    predicate: unknown,
    signal?: AbortSignal,
  ): Promise<AttestationWritten | null> {
    const writer = this.writer;
    return writer ? this.oneAtATime(target, 'att', () => writer.attest(imageOf(target), predicateType, predicate, signal)) : null;
  }

  /** Several predicates in one read-modify-write of `.att` and of the referrers fallback index. */
  async attestAll(target: AttestationTarget, items: AttestationInput[], signal?: AbortSignal): Promise<AttestationWritten[] | null> {
    const writer = this.writer;
    return writer ? this.oneAtATime(target, 'att', () => writer.attestAll(imageOf(target), items, signal)) : null;
  }

  /**
   * `.sig` and `.att` are read, appended to and written back, as cosign does: two writers of one tag
   * at once would lose an append. This process's writers of a tag (the promote step, the scan
   * watcher's SBOM) take turns. Writers in other processes are kept apart by the promotion rules
   * instead: a digest has one live promotion per environment, and the promote step attests the SBOM
   * itself, so the watcher finds it present and writes nothing.
   */
  private async oneAtATime<T>(target: AttestationTarget, tag: 'sig' | 'att', write: () => Promise<T>): Promise<T> {
    const key = `${target.repository}@${target.digest} .${tag}`;
    const before = this.writing.get(key) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(write);
    this.writing.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.writing.get(key) === mine) this.writing.delete(key);
    }
  }
}

function imageOf(target: AttestationTarget) {
  return { ...pinnedImage(target.repository, target.digest), name: target.repository };
}
