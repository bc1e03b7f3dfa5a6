/** A parsed image reference, normalised the way docker does (`docker.io`, `library/`). */
export interface ImageReference {
  /** host[:port] */
  registry: string;
  repository: string;
  tag: string | null;
  digest: string | null;
}

export class InvalidReferenceError extends Error {
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`'${reference}' is not a valid image reference: ${reason}`);
    this.name = 'InvalidReferenceError';
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN =
  /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

export function parseReference(text: string): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(text, reason);
  };
  if (text.length === 0) fail('it is empty');
  if (/\s/.test(text)) fail('it contains whitespace');

  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digest.startsWith('sha256:')) fail('only sha256 digests are supported');
    if (!DIGEST.test(digest)) fail('a sha256 digest is 64 lowercase hex characters');
  }

  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`'${tag}' is not a valid tag`);
  }

  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN.test(first)) fail(`'${first}' is not a valid registry host`);
    registry = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => p.length === 0)) fail('the repository path has an empty component');
  for (const p of parts) {
    if (p !== p.toLowerCase()) fail('repository names must be lowercase');
    if (!COMPONENT.test(p)) fail(`'${p}' is not a valid path component`);
  }
  if (registry === 'index.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (registry.length + 1 + repository.length > MAX_NAME) fail(`the name is longer than ${MAX_NAME} characters`);
  return { registry, repository, tag, digest };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

/** A repository as the promoter stores it: `host[:port]/path`, split once here. */
export interface RepositoryLocation {
  /** host[:port] */
  registry: string;
  repository: string;
}

/** An image pinned by digest in a repository: what gates, the copy and the signer work on. */
export interface PinnedImage extends RepositoryLocation {
  digest: string;
}

/** Splits a stored `host[:port]/path` (never a user's reference: those go through parseReference). */
export function splitRepository(hostAndPath: string): RepositoryLocation {
  const slash = hostAndPath.indexOf('/');
  if (slash <= 0 || slash === hostAndPath.length - 1) throw new TypeError(`not a host/repository name: ${hostAndPath}`);
  return { registry: hostAndPath.slice(0, slash), repository: hostAndPath.slice(slash + 1) };
}

export function pinnedImage(hostAndPath: string, digest: string): PinnedImage {
  return { ...splitRepository(hostAndPath), digest };
}
