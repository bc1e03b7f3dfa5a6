import { RegistryError } from './registry-error.js';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

// Names end up in URL paths: checking them here keeps `..`, `?` and `%2f` out of requests.
export function checkRepository(repository: string): string {
  const parts = repository.split('/');
  if (repository.length > 255 || parts.some((p) => !COMPONENT.test(p))) {
    throw new RegistryError('protocol', `'${repository}' is not a valid repository name`);
  }
  return repository;
}

export function checkDigest(digest: string): string {
  if (!DIGEST.test(digest)) throw new RegistryError('protocol', `'${digest}' is not a sha256 digest`);
  return digest;
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw new RegistryError('protocol', `'${tag}' is not a valid tag`);
  return tag;
}

/** A manifest reference: a tag or a digest. */
export function checkManifestRef(ref: string): string {
  return ref.includes(':') ? checkDigest(ref) : checkTag(ref);
}

export function isDigestRef(ref: string): boolean {
  return DIGEST.test(ref);
}

export const pullScope = (repository: string): string => `repository:${repository}:pull`;
export const pushScope = (repository: string): string => `repository:${repository}:pull,push`;
