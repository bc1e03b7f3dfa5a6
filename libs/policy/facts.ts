// What a rule sees: one facts object per platform of the image, plain JSON (`created` and `now`
// are ISO-8601 strings here and CEL timestamps inside rules).

export interface IndexEntryFacts {
  digest: string;
  mediaType: string;
  /** `os/architecture[/variant]`, or `unknown` when the entry names none. */
  platform: string;
}

export interface ImageSection {
  /** host[:port] as in image references. */
  registry: string;
  repository: string;
  /** The digest promoted: the index for a multi-arch image. */
  digest: string;
  /** The tag the image was requested by, or null when it was requested by digest. */
  tag: string | null;
  /** The platform these facts describe. */
  platform: string;
  /** Every platform of the image (one for a single-platform image). */
  platforms: string[];
  /** The platform's own image manifest (equal to `digest` for a single-platform image). */
  manifestDigest: string;
  mediaType: string;
  isIndex: boolean;
  /** The index's entries (empty for a single-platform image); attestation manifests left out. */
  index: IndexEntryFacts[];
}

export interface ConfigSection {
  User: string;
  Entrypoint: string[];
  Cmd: string[];
  /** Variable names only: values may hold secrets and never reach the evidence. */
  Env: string[];
  /** `8080/tcp`, … */
  ExposedPorts: string[];
  Labels: Record<string, string>;
  WorkingDir: string;
}

export interface FilesystemSection {
  hasShell: boolean;
  /** Paths of the shells found, e.g. `/bin/sh`. */
  shells: string[];
  hasPackageManager: boolean;
  /** Names of the package managers found, e.g. `apk`. */
  packageManagers: string[];
}

/** The image's `User` resolved as the runtime does (numeric forms normalised, names looked up in the image). */
export interface UserSection {
  /** The uid the container runs as (0 when `User` is empty); null when it cannot be resolved. */
  uid: number | null;
  /** The gid (from the group part, else the user's passwd entry, else 0); null when it cannot be resolved. */
  gid: number | null;
  /** Why the user or group cannot be resolved (a name not in /etc/passwd, an unreadable file); "" when resolved. */
  problem: string;
}

/** Another gate's result from the same round, as far as it had one when the policy gate ran. */
export interface GateFacts {
  status: string;
  summary: string;
  /** Signature gate: who signed (keys or keyless identities), when its evidence says. */
  identities?: Array<Record<string, string | number>>;
  /** Scan gate: finding counts by severity, when its evidence says. */
  counts?: Record<string, number>;
}

export interface PromotionFacts {
  requester: string;
  source: string | null;
  target: string;
  reason: string;
}

export interface ImageFacts {
  image: ImageSection;
  config: ConfigSection;
  created: string | null;
  layerCount: number;
  /** Bytes of the layers as stored (compressed). */
  totalSize: number;
  /** OCI annotations of the manifest (and index); the base/source/revision keys fall back to labels. */
  annotations: Record<string, string>;
  /** Null when no rule in force looks at the filesystem (the layers were not read). */
  filesystem: FilesystemSection | null;
  user: UserSection;
  gates: Record<string, GateFacts>;
  promotion: PromotionFacts;
  now: string;
}

/** Annotations always present in the facts ("" when neither the manifest nor a label sets them). */
export const WELL_KNOWN_ANNOTATIONS = [
  'org.opencontainers.image.base.name',
  'org.opencontainers.image.base.digest',
  'org.opencontainers.image.source',
  'org.opencontainers.image.revision',
] as const;

export const SHELL_NAMES = ['sh', 'bash', 'ash'] as const;
export const PACKAGE_MANAGER_NAMES = ['apt', 'apt-get', 'dpkg', 'apk', 'yum', 'dnf', 'rpm'] as const;
export const BIN_DIRS = ['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'] as const;
