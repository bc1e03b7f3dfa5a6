import type { ImageFacts } from '#libs/policy/index.js';

/** Facts of a well-behaved single-platform image, for tests to vary one thing at a time. */
export function sampleFacts(overrides: { [K in keyof ImageFacts]?: Partial<ImageFacts[K]> } = {}): ImageFacts {
  const base: ImageFacts = {
    image: {
      registry: 'registry.corp.example',
      repository: 'staging/web',
      digest: 'sha256:' + 'a'.repeat(64),
      tag: '1.4.2',
      platform: 'linux/amd64',
      platforms: ['linux/amd64'],
      manifestDigest: 'sha256:' + 'a'.repeat(64),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      isIndex: false,
      index: [],
    },
    config: {
      User: '65532',
      Entrypoint: ['/app'],
      Cmd: [],
      Env: ['PATH'],
      ExposedPorts: ['8080/tcp'],
      Labels: { 'org.opencontainers.image.source': 'https://git.corp.example/web' },
      WorkingDir: '/',
    },
    created: new Date(Date.now() - 3 * 86_400_000).toISOString(),
    layerCount: 3,
    totalSize: 12_345_678,
    annotations: {
      'org.opencontainers.image.base.name': 'gcr.io/distroless/static:nonroot',
      'org.opencontainers.image.base.digest': 'sha256:' + 'b'.repeat(64),
      'org.opencontainers.image.source': 'https://git.corp.example/web',
      'org.opencontainers.image.revision': 'abc123',
    },
    filesystem: { hasShell: false, shells: [], hasPackageManager: false, packageManagers: [] },
    user: { uid: 65532, gid: 0, problem: '' },
    gates: {},
    promotion: { requester: 'ci', source: 'dev', target: 'staging', reason: 'release' },
    now: new Date().toISOString(),
  };
  const out = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    const current = (base as unknown as Record<string, unknown>)[key];
    out[key] =
      value !== null && typeof value === 'object' && !Array.isArray(value) && current !== null && typeof current === 'object'
        ? { ...current, ...value }
        : value;
  }
  return out as unknown as ImageFacts;
}
