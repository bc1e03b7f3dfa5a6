import { readImageFiles, type ImageFs, type ImageReadLimits } from '#libs/imagefs/index.js';
import { isIndexType, type Descriptor, type Manifest, type RegistryClient } from '#libs/registry/index.js';
import { resolveUser, userNeedsLookup, type IdFiles } from './user.js';
import {
  BIN_DIRS,
  PACKAGE_MANAGER_NAMES,
  SHELL_NAMES,
  WELL_KNOWN_ANNOTATIONS,
  type ConfigSection,
  type FilesystemSection,
  type GateFacts,
  type ImageFacts,
  type IndexEntryFacts,
  type PromotionFacts,
} from './facts.js';

/** The image is not something rules can be evaluated on (malformed config, empty index, ...). */
export class FactsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FactsError';
  }
}

export interface FactsRequest {
  registry: string;
  repository: string;
  digest: string;
  tag: string | null;
  promotion: PromotionFacts;
  gates?: Record<string, GateFacts>;
  /** Read the layers for shell and package-manager presence (skip when no rule looks). */
  filesystem: boolean;
  /** Resolve a user or group name through the image's /etc/passwd and /etc/group (skip when no rule looks at `user`). */
  users?: boolean;
  now?: Date;
  signal?: AbortSignal;
  /** Bounds on reading the layers (`limits.image`); defaults for those not given. */
  limits?: Partial<ImageReadLimits>;
}

const MiB = 1024 * 1024;
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

/**
 * Reads the image from the registry and builds one facts object per platform. Registry failures
 * propagate as RegistryError (the caller decides whether to retry); an image that cannot be
 * understood is a FactsError; a broken layer is an ImageFsError.
 */
export async function buildFacts(client: RegistryClient, request: FactsRequest): Promise<ImageFacts[]> {
  const location = { registry: request.registry, repository: request.repository };
  const top = await client.getManifest(location, request.digest, request.signal);
  const now = (request.now ?? new Date()).toISOString();

  let index: IndexEntryFacts[] = [];
  let children: Array<{ descriptor: Descriptor; platform: string | null }>;
  if (isIndexType(top.mediaType)) {
    const entries = (top.json.manifests ?? []).filter((d) => d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
    index = entries.map((d) => ({ digest: d.digest, mediaType: d.mediaType, platform: platformOf(d.platform) }));
    children = entries.filter((d) => MANIFEST_TYPES.has(d.mediaType)).map((d) => ({ descriptor: d, platform: platformOf(d.platform) }));
    if (children.length === 0) throw new FactsError(`index ${top.digest} lists no image manifests to evaluate`);
  } else {
    children = [{ descriptor: { digest: top.digest, mediaType: top.mediaType, size: top.size }, platform: null }];
  }

  const perPlatform = [];
  for (const child of children) {
    const manifest =
      child.descriptor.digest === top.digest ? top : await client.getManifest(location, child.descriptor.digest, request.signal);
    perPlatform.push(await platformFacts(client, location, manifest, top, child.platform, request));
  }
  const platforms = perPlatform.map((p) => p.platform);
  return perPlatform.map((p) => ({
    image: {
      registry: request.registry,
      repository: request.repository,
      digest: top.digest,
      tag: request.tag,
      platform: p.platform,
      platforms,
      manifestDigest: p.manifestDigest,
      mediaType: top.mediaType,
      isIndex: isIndexType(top.mediaType),
      index,
    },
    config: p.config,
    created: p.created,
    layerCount: p.layerCount,
    totalSize: p.totalSize,
    annotations: p.annotations,
    filesystem: p.filesystem,
    user: p.user,
    gates: request.gates ?? {},
    promotion: request.promotion,
    now,
  }));
}

async function platformFacts(
  client: RegistryClient,
  location: { registry: string; repository: string },
  manifest: Manifest,
  top: Manifest,
  declaredPlatform: string | null,
  request: FactsRequest,
) {
  const configDescriptor = manifest.json.config;
  const layers = manifest.json.layers;
  if (!configDescriptor || !Array.isArray(layers))
    throw new FactsError(`manifest ${manifest.digest} is not an image manifest (no config or layers)`);
  const raw = await client.readBlob(location, configDescriptor, 4 * MiB, request.signal);
  let doc: ImageConfigJson;
  try {
    doc = JSON.parse(raw.toString('utf8')) as ImageConfigJson;
  } catch {
    throw new FactsError(`the config ${configDescriptor.digest} of ${manifest.digest} is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new FactsError(`the config ${configDescriptor.digest} is not a JSON object`);
  const config = configSection(doc.config ?? doc.container_config ?? {});
  const annotations: Record<string, string> = { ...stringsOf(top.json.annotations), ...stringsOf(manifest.json.annotations) };
  for (const key of WELL_KNOWN_ANNOTATIONS) annotations[key] = annotations[key] || config.Labels[key] || '';
  const lookup = request.users === true && userNeedsLookup(config.User);
  const fs =
    request.filesystem || lookup
      ? await readImageFiles(client, location, manifest.digest, {
          ...request.limits,
          want: lookup ? isIdFile : undefined,
          signal: request.signal,
        })
      : null;
  const filesystem = request.filesystem && fs ? filesystemSection(fs) : null;
  const user = resolveUser(config.User, lookup && fs ? idFiles(fs) : null);
  return {
    platform: declaredPlatform ?? platformOf({ os: doc.os, architecture: doc.architecture, variant: doc.variant }),
    manifestDigest: manifest.digest,
    config,
    created: createdOf(doc.created),
    layerCount: layers.length,
    totalSize: layers.reduce((sum, l) => sum + (Number.isSafeInteger(l.size) ? l.size : 0), 0),
    annotations,
    filesystem,
    user,
  };
}

const ID_FILES = ['/etc/passwd', '/etc/group'];
const isIdFile = (path: string) => ID_FILES.includes(path);

/** /etc/passwd and /etc/group as the runtime finds them (through links); the reason when one exists but cannot be read. */
function idFiles(fs: Pick<ImageFs, 'files'>): IdFiles {
  const get = (path: string) => {
    const f = fs.files().find((e) => e.path === path);
    if (!f) return null;
    return f.problem !== null || !f.content ? (f.problem ?? 'no content') : f.content;
  };
  return { passwd: get('/etc/passwd'), group: get('/etc/group') };
}

interface ImageConfigJson {
  created?: unknown;
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  config?: Record<string, unknown> | null;
  container_config?: Record<string, unknown> | null;
}

function platformOf(p: { os?: unknown; architecture?: unknown; variant?: unknown } | undefined): string {
  if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string' || !p.os || !p.architecture || p.os === 'unknown')
    return 'unknown';
  return [p.os, p.architecture, ...(typeof p.variant === 'string' && p.variant ? [p.variant] : [])].join('/');
}

function createdOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const at = new Date(value);
  // The zero time some builders write for reproducibility means "unknown", not 1 AD.
  if (Number.isNaN(at.getTime()) || at.getTime() <= 0) return null;
  return at.toISOString();
}

function configSection(c: Record<string, unknown>): ConfigSection {
  const list = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  return {
    User: typeof c.User === 'string' ? c.User : '',
    Entrypoint: list(c.Entrypoint),
    Cmd: list(c.Cmd),
    Env: list(c.Env).map((e) => e.split('=')[0]!),
    ExposedPorts: c.ExposedPorts && typeof c.ExposedPorts === 'object' ? Object.keys(c.ExposedPorts) : [],
    Labels: stringsOf(c.Labels),
    WorkingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
  };
}

function stringsOf(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Presence after whiteouts, following symlinks inside the image: a dangling `/bin/sh` is no shell. */
export function filesystemSection(fs: Pick<ImageFs, 'resolve' | 'realpath'>): FilesystemSection {
  const isFile = (path: string) => {
    const r = fs.resolve(path);
    // A dangling link is no program (nor is one the kernel would refuse as too long); a chain past
    // maxLinkHops could be one the rule must see: fail closed rather than call it absent.
    if ('problem' in r) {
      if (r.problem === 'loop')
        throw new FactsError(`${path} is a symlink chain longer than limits.image.maxLinkHops (or a loop): cannot tell what it runs`);
      return false;
    }
    return r.entry.type === 'file' || r.entry.type === 'hardlink';
  };
  // `/bin` is often a link to `/usr/bin`: name each shell once, by the first path that reaches it.
  const seen = new Set<string>();
  const shells = BIN_DIRS.flatMap((dir) => SHELL_NAMES.map((name) => `${dir}/${name}`))
    .filter(isFile)
    .filter((path) => {
      const real = fs.realpath(path) ?? path;
      if (seen.has(real)) return false;
      seen.add(real);
      return true;
    });
  const packageManagers = PACKAGE_MANAGER_NAMES.filter((name) => BIN_DIRS.some((dir) => isFile(`${dir}/${name}`)));
  return { hasShell: shells.length > 0, shells, hasPackageManager: packageManagers.length > 0, packageManagers };
}
