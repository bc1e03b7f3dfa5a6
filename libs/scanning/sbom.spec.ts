import { describe, expect, it } from 'vitest';
import { npmPackage } from './detect/npm.js';
import { osInfo } from './detect/os-release.js';
import { dpkgPackages } from './detect/dpkg.js';
import { buildSbom } from './sbom.js';

const subject = { registry: 'registry.example.com', repository: 'team/web', digest: 'sha256:' + 'a'.repeat(64) };
const os = osInfo('ID=debian\nVERSION_ID="12"\n');
const pkgs = [
  ...dpkgPackages(
    'Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1\nArchitecture: amd64\n',
    '/var/lib/dpkg/status',
    os,
    true,
  ),
  npmPackage('@babel/core', '7.23.0', '/app/package-lock.json'),
];

describe('CycloneDX SBOM', () => {
  it('is CycloneDX 1.6 with the image as an oci purl pinned to its digest, and one component per package', () => {
    const bom = buildSbom(subject, os, pkgs);

    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1 });
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(bom.metadata.component).toMatchObject({
      type: 'container',
      purl: `pkg:oci/web@sha256%3A${'a'.repeat(64)}?repository_url=registry.example.com%2Fteam%2Fweb`,
      version: subject.digest,
    });
    expect(bom.components.map((c) => c.purl ?? c.type)).toEqual([
      'operating-system',
      'pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12',
      'pkg:npm/%40babel/core@7.23.0',
    ]);
  });

  it('is deterministic: same input, same bytes, whatever the package order', () => {
    const a = JSON.stringify(buildSbom(subject, os, pkgs));
    const b = JSON.stringify(buildSbom(subject, os, [...pkgs].reverse()));
    expect(a).toBe(b);
    expect(JSON.stringify(buildSbom({ ...subject, digest: 'sha256:' + 'b'.repeat(64) }, os, pkgs))).not.toBe(a);
  });
});
