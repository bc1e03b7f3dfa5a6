import { ImageFsError, type ImageFs } from '#libs/imagefs/index.js';
import type { OsInfo, Package } from '../packages.js';
import { apkPackages } from './apk.js';
import { dpkgPackages } from './dpkg.js';
import { npmInstalledPackage, npmLockPackages } from './npm.js';
import { osInfo } from './os-release.js';
import { pythonPackage } from './python.js';

export { osInfo, osvEcosystem, parseOsRelease } from './os-release.js';
export { normalizePypiName } from './python.js';

const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'];
const DPKG_STATUS = '/var/lib/dpkg/status';
const DPKG_STATUS_D = /^\/var\/lib\/dpkg\/status\.d\/[^/]+$/;
const APK_INSTALLED = '/lib/apk/db/installed';
const NPM_INSTALLED = /\/node_modules\/(?:@[^/]+\/)?[^/]+\/package\.json$/;
// A project's lockfile, or npm's hidden lockfile of what is installed; lockfiles published inside
// packages (node_modules/x/package-lock.json) describe their authors' trees, not this image.
const NPM_LOCK = /^(?:(?!.*\/node_modules\/).*\/package-lock\.json|.*\/node_modules\/\.package-lock\.json)$/;
const PYTHON_METADATA = /\/[^/]+\.dist-info\/METADATA$|\/[^/]+\.egg-info\/PKG-INFO$/;

/** The files package detection reads: pass as `want` to readImageFiles. */
export function scannerWants(path: string): boolean {
  return (
    OS_RELEASE.includes(path) ||
    path === DPKG_STATUS ||
    DPKG_STATUS_D.test(path) ||
    path === APK_INSTALLED ||
    NPM_INSTALLED.test(path) ||
    NPM_LOCK.test(path) ||
    PYTHON_METADATA.test(path)
  );
}

export interface Detected {
  os: OsInfo | null;
  packages: Package[];
}

/**
 * The OS and every package found in an image's final filesystem, sorted by purl, without
 * duplicates. Wanted files are reached as a process in the image would reach them (through
 * symlinked directories, symlinks and hard links); one that exists but cannot be read fails the
 * whole detection, naming the path: a package database nobody can read would otherwise hide its
 * packages.
 */
export function detectPackages(fs: Pick<ImageFs, 'files'>): Detected {
  const files = fs.files();
  const unreadable = files.find((f) => f.problem !== null || f.content === null);
  if (unreadable) {
    const where = unreadable.realPath && unreadable.realPath !== unreadable.path ? ` (${unreadable.realPath})` : '';
    throw new ImageFsError(
      'unreadable_file',
      `${unreadable.path}${where} cannot be read: ${unreadable.problem ?? 'no content'}; failing closed rather than skipping it`,
    );
  }
  let os: OsInfo | null = null;
  for (const path of OS_RELEASE) {
    const file = files.find((f) => f.path === path);
    if (file?.content) {
      os = osInfo(file.content.toString('utf8'));
      break;
    }
  }
  const found: Package[] = [];
  for (const file of files) {
    const text = file.content!.toString('utf8');
    // The path asked for decides what the file is; where it really is (after links) is where it
    // was found, so a database reached by two paths (/lib → /usr/lib) is reported once, truthfully.
    const path = file.path;
    const at = file.realPath ?? path;
    if (path === DPKG_STATUS) found.push(...dpkgPackages(text, at, os, true));
    else if (DPKG_STATUS_D.test(path)) {
      if (!path.endsWith('.md5sums')) found.push(...dpkgPackages(text, at, os, false));
    } else if (path === APK_INSTALLED) found.push(...apkPackages(text, at, os));
    else if (NPM_INSTALLED.test(path)) {
      const p = npmInstalledPackage(text, at);
      if (p) found.push(p);
    } else if (NPM_LOCK.test(path)) found.push(...npmLockPackages(text, at));
    else if (PYTHON_METADATA.test(path)) {
      const p = pythonPackage(text, at);
      if (p) found.push(p);
    }
  }
  return { os, packages: dedupe(found) };
}

/** One package per purl (a lockfile and node_modules name the same install); the first place found wins. */
export function dedupe(packages: Package[]): Package[] {
  const byPurl = new Map<string, Package>();
  for (const p of packages) {
    const seen = byPurl.get(p.purl);
    if (!seen || p.foundIn < seen.foundIn) byPurl.set(p.purl, p);
  }
  return [...byPurl.values()].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
}
