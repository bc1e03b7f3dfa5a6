import { createHash } from 'node:crypto';
import type { OsInfo, Package } from './packages.js';
import { purl } from './purl.js';

export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';

export interface CycloneDxProperty {
  name: string;
  value: string;
}

export interface CycloneDxComponent {
  type: 'library' | 'application' | 'operating-system' | 'container';
  'bom-ref': string;
  name: string;
  version?: string;
  purl?: string;
  properties?: CycloneDxProperty[];
}

export interface CycloneDxBom {
  bomFormat: 'CycloneDX';
  specVersion: '1.6';
  serialNumber: string;
  version: 1;
  metadata: {
    timestamp?: string;
    tools: { components: { type: 'application'; name: string }[] };
    component: CycloneDxComponent;
  };
  components: CycloneDxComponent[];
}

export interface SbomSubject {
  registry: string;
  repository: string;
  digest: string;
}

/**
 * A CycloneDX 1.6 JSON BOM of the packages found. Deterministic: the same image and packages give
 * the same bytes (serial number derived from the digest, components sorted, no timestamp unless
 * one is passed), so an attestation of it can be compared and re-verified.
 */
export function buildSbom(subject: SbomSubject, os: OsInfo | null, packages: readonly Package[], timestamp?: Date): CycloneDxBom {
  const imageName = subject.repository.split('/').pop() ?? subject.repository;
  const imagePurl = purl('oci', null, imageName, subject.digest, { repository_url: `${subject.registry}/${subject.repository}` });
  const components: CycloneDxComponent[] = [];
  if (os) {
    components.push({
      type: 'operating-system',
      'bom-ref': `os:${os.id}@${os.versionId ?? ''}`,
      name: os.id,
      ...(os.versionId ? { version: os.versionId } : {}),
    });
  }
  const sorted = [...packages].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
  for (const p of sorted) {
    const properties: CycloneDxProperty[] = [{ name: 'promoter:package:foundIn', value: p.foundIn }];
    if (p.sourceName && (p.sourceName !== p.name || p.sourceVersion !== p.version)) {
      properties.push({ name: 'promoter:package:source', value: `${p.sourceName}@${p.sourceVersion ?? p.version}` });
    }
    properties.push({ name: 'promoter:package:ecosystem', value: p.ecosystem });
    components.push({ type: 'library', 'bom-ref': p.purl, name: p.name, version: p.version, purl: p.purl, properties });
  }
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${uuidFrom(`${subject.registry}/${subject.repository}@${subject.digest}`)}`,
    version: 1,
    metadata: {
      ...(timestamp ? { timestamp: timestamp.toISOString() } : {}),
      tools: { components: [{ type: 'application', name: 'image-promoter' }] },
      component: {
        type: 'container',
        'bom-ref': imagePurl,
        name: `${subject.registry}/${subject.repository}`,
        version: subject.digest,
        purl: imagePurl,
      },
    },
    components,
  };
}

// A name-based (version 5 layout) UUID, so the serial number is stable for one image.
function uuidFrom(name: string): string {
  const h = createHash('sha1').update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
