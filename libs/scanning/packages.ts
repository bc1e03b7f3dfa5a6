/** Package kinds the built-in scanner finds, named as purl types. */
export type PackageType = 'deb' | 'apk' | 'npm' | 'pypi';

/** One installed package, as found in the image and as OSV names it. */
export interface Package {
  type: PackageType;
  name: string;
  version: string;
  /** OSV ecosystem with release: `Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`, `npm`, `PyPI`. */
  ecosystem: string;
  purl: string;
  /** Debian and Alpine: the source package OSV records name (`openssl` for `libssl3`), and its version. */
  sourceName: string | null;
  sourceVersion: string | null;
  arch: string | null;
  /** Where it was found in the image: `/var/lib/dpkg/status`, `/app/node_modules/x/package.json`. */
  foundIn: string;
}

/** What `/etc/os-release` says, and the OSV ecosystem of the distribution's packages. */
export interface OsInfo {
  id: string;
  versionId: string | null;
  codename: string | null;
  prettyName: string | null;
  /** `Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`; null for distributions OSV does not cover. */
  ecosystem: string | null;
}
