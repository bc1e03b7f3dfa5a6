import { readImageFiles, type ImageReadLimits } from '#libs/imagefs/index.js';
import { isIndexType, type Descriptor, type RegistryClient, type RepositoryLocation } from '#libs/registry/index.js';
import { detectPackages, dedupe, scannerWants } from './detect/index.js';
import type { Finding } from './findings.js';
import { lookupKey, matchEntries } from './osv/match.js';
import type { OsInfo, Package } from './packages.js';
import { buildSbom, type CycloneDxBom } from './sbom.js';
import { lookupEntries, vulnDbStatus, type SqlDatabase, type SqlRunner, type VulnDbStatus } from './vulndb/store.js';

export interface ScanImage extends RepositoryLocation {
  /** Manifest or index digest. */
  digest: string;
}

export interface PlatformScan {
  /** The single-platform manifest scanned. */
  digest: string;
  /** `linux/amd64`, `linux/arm64/v8` from the index; null for a plain manifest. */
  platform: string | null;
  os: OsInfo | null;
  packages: Package[];
}

export interface ScanResult {
  /** The digest asked for (an index or a manifest). */
  digest: string;
  /** One entry per platform manifest scanned (one for a plain manifest). */
  platforms: PlatformScan[];
  /** The first platform's OS (the platforms of one index share a distribution in practice). */
  os: OsInfo | null;
  /** Every platform's packages, one per purl, sorted by purl. */
  packages: Package[];
  /** CycloneDX 1.6 of `packages`, with the image (oci purl with digest) as metadata.component. */
  sbom: CycloneDxBom;
  findings: Finding[];
  /** When the vulnerability database used was imported; null when none has been. */
  dbImportedAt: Date | null;
}

export interface MatchResult {
  findings: Finding[];
  dbImportedAt: Date | null;
}

export interface ScannerOptions {
  registry: RegistryClient;
  db: SqlRunner | SqlDatabase;
  /** Limits for reading each image (`limits.image`; see readImageFiles); defaults for those not given. */
  limits?: Partial<ImageReadLimits>;
}

/**
 * The built-in scanner: reads an image's final filesystem from the registry, finds its packages,
 * writes the SBOM and matches the packages against the imported OSV database. Plain TypeScript:
 * the scan gate wraps it. Errors: ImageFsError for an image that cannot be read (a verdict of
 * `error`), RegistryError for the registry failing (worth a retry), database errors as thrown.
 */
export class ScannerService {
  constructor(private readonly options: ScannerOptions) {}

  /** Scans a manifest, or every platform manifest of an index; findings from the current database. */
  async scan(image: ScanImage, signal?: AbortSignal): Promise<ScanResult> {
    const detected = await this.detect(image, signal);
    const match = await this.matchPackages(detected.packages);
    return { ...detected, findings: match.findings, dbImportedAt: match.dbImportedAt };
  }

  /** Packages and SBOM without matching (nothing read from the database). */
  async detect(image: ScanImage, signal?: AbortSignal): Promise<Omit<ScanResult, 'findings' | 'dbImportedAt'>> {
    const location = { registry: image.registry, repository: image.repository };
    const top = await this.options.registry.getManifest(location, image.digest, signal);
    const targets: { digest: string; platform: string | null }[] = [];
    if (isIndexType(top.mediaType) || Array.isArray(top.json.manifests)) {
      for (const child of top.json.manifests ?? []) {
        if (isImageManifest(child)) targets.push({ digest: child.digest, platform: platformName(child) });
      }
    } else {
      targets.push({ digest: top.digest, platform: null });
    }
    const platforms: PlatformScan[] = [];
    for (const t of targets) {
      const fs = await readImageFiles(this.options.registry, location, t.digest, { ...this.options.limits, want: scannerWants, signal });
      const { os, packages } = detectPackages(fs);
      platforms.push({ digest: t.digest, platform: t.platform, os, packages });
    }
    const os = platforms.find((p) => p.os)?.os ?? null;
    const packages = dedupe(platforms.flatMap((p) => p.packages));
    const sbom = buildSbom({ registry: image.registry, repository: image.repository, digest: top.digest }, os, packages);
    return { digest: top.digest, platforms, os, packages, sbom };
  }

  /** Findings for packages found earlier (a stored scan) against the current database: re-evaluation after an import. */
  async matchPackages(packages: readonly Package[]): Promise<MatchResult> {
    const keys = packages.flatMap((p) => {
      const k = lookupKey(p);
      return k.ecosystems.map((ecosystem) => ({ ecosystem, package: k.name }));
    });
    const { importedAt, entries } = await lookupEntries(this.options.db, keys);
    return { findings: matchEntries(packages, entries), dbImportedAt: importedAt };
  }

  /** The current import (date, source, counts), or null when none has been made. */
  dbStatus(): Promise<VulnDbStatus | null> {
    return vulnDbStatus(this.options.db);
  }
}

// Indexes also list attestation manifests (BuildKit's `unknown/unknown` with a reference type).
function isImageManifest(d: Descriptor): boolean {
  if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return false;
  if (d.platform && (d.platform.os === 'unknown' || d.platform.architecture === 'unknown')) return false;
  return !isIndexType(d.mediaType);
}

function platformName(d: Descriptor): string | null {
  if (!d.platform) return null;
  return [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/');
}
