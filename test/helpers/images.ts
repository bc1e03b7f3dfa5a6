import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

// Test images pushed through the raw distribution API (never through libs/registry), so tests of
// the client do not depend on the client to set themselves up.

export interface RawRegistry {
  url: string;
  username?: string;
  password?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface PushedImage {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Buffer;
  config: Descriptor;
  layers: Descriptor[];
}

export interface PushedIndex {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Buffer;
  children: PushedImage[];
}

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');

export const sha256 = (data: Uint8Array): string => 'sha256:' + createHash('sha256').update(data).digest('hex');

function headers(reg: RawRegistry, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { ...extra };
  if (reg.username !== undefined) out.authorization = 'Basic ' + Buffer.from(`${reg.username}:${reg.password ?? ''}`).toString('base64');
  return out;
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${await res.text()}`);
}

function uploadUrl(reg: RawRegistry, location: string | null, digest?: string): string {
  const url = new URL(location ?? '', reg.url);
  if (digest) url.searchParams.set('digest', digest);
  return url.href;
}

/** A tar archive of the given files (ustar headers, no directories). */
export function tarOf(files: { name: string; data: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(tarHeader(f.name, f.data.length), Buffer.from(f.data), Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

export interface Layer {
  bytes: Buffer;
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
}

/** A layer holding one file of random bytes, gzipped or a raw tar. */
export function randomLayer(options: { size?: number; gzip?: boolean; docker?: boolean } = {}): Layer {
  const tar = tarOf([{ name: `file-${randomBytes(4).toString('hex')}.bin`, data: randomBytes(options.size ?? 2048) }]);
  const gzip = options.gzip ?? true;
  const bytes = gzip ? gzipSync(tar) : tar;
  const mediaType = options.docker ? MT.dockerLayerGzip : gzip ? MT.ociLayerGzip : MT.ociLayerTar;
  return { bytes, diffId: sha256(tar), descriptor: { mediaType, digest: sha256(bytes), size: bytes.length } };
}

/** Monolithic upload: POST, then PUT with the digest. */
export async function pushBlob(reg: RawRegistry, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const open = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: headers(reg) });
  await expectStatus(open, 202, `POST upload ${repo}`);
  const put = await fetch(uploadUrl(reg, open.headers.get('location'), digest), {
    method: 'PUT',
    headers: headers(reg, { 'content-type': 'application/octet-stream' }),
    body: bytes,
  });
  await expectStatus(put, 201, `PUT blob ${repo}`);
  return digest;
}

export async function pushManifest(reg: RawRegistry, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: headers(reg, { 'content-type': mediaType }),
    body: bytes,
  });
  await expectStatus(res, 201, `PUT manifest ${repo}:${ref}`);
  return sha256(bytes);
}

export interface RawManifest {
  status: number;
  bytes: Buffer;
  mediaType: string | null;
  digest: string | null;
}

export async function getManifest(reg: RawRegistry, repo: string, ref: string): Promise<RawManifest> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: headers(reg, { accept: ACCEPT }) });
  return {
    status: res.status,
    bytes: Buffer.from(await res.arrayBuffer()),
    mediaType: res.headers.get('content-type'),
    digest: res.headers.get('docker-content-digest'),
  };
}

export async function getBlob(reg: RawRegistry, repo: string, digest: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { headers: headers(reg) });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

export async function blobStatus(reg: RawRegistry, repo: string, digest: string): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: headers(reg) });
  return res.status;
}

export interface ImageOptions {
  format?: 'oci' | 'docker';
  layers?: number;
  layerSize?: number;
  gzip?: boolean;
  tag?: string;
  platform?: { architecture: string; os: string; variant?: string };
}

/** An image with random layers, its config and manifest; tagged if asked, else pushed by digest. */
export async function pushImage(reg: RawRegistry, repo: string, options: ImageOptions = {}): Promise<PushedImage> {
  const docker = options.format === 'docker';
  const platform = options.platform ?? { architecture: 'amd64', os: 'linux' };
  const layers = Array.from({ length: options.layers ?? 2 }, () =>
    randomLayer({ size: options.layerSize, gzip: docker ? true : options.gzip, docker }),
  );
  for (const l of layers) await pushBlob(reg, repo, l.bytes);
  const config = Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created: new Date().toISOString(),
      config: { Env: ['PATH=/usr/bin:/bin'], User: '1000', Cmd: ['/bin/app'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: 'test', created: new Date().toISOString() })),
    }),
  );
  await pushBlob(reg, repo, config);
  const configDesc: Descriptor = { mediaType: docker ? MT.dockerConfig : MT.ociConfig, digest: sha256(config), size: config.length };
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  // Indented on purpose: a copy that re-serialised the JSON would change the digest.
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType, config: configDesc, layers: layers.map((l) => l.descriptor) }, null, docker ? 3 : 2) +
      '\n',
  );
  const digest = await pushManifest(reg, repo, options.tag ?? sha256(bytes), bytes, mediaType);
  return { digest, mediaType, size: bytes.length, bytes, config: configDesc, layers: layers.map((l) => l.descriptor) };
}

/** A two-platform index (linux/amd64, linux/arm64): OCI index, or a Docker manifest list. */
export async function pushIndex(
  reg: RawRegistry,
  repo: string,
  options: { tag?: string; format?: 'oci' | 'docker' } = {},
): Promise<PushedIndex> {
  const format = options.format ?? 'oci';
  const platforms = [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux', variant: 'v8' },
  ];
  const children: PushedImage[] = [];
  for (const platform of platforms) children.push(await pushImage(reg, repo, { format, platform, layers: 2 }));
  const mediaType = format === 'docker' ? MT.dockerList : MT.ociIndex;
  const bytes = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType,
        manifests: children.map((c, i) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, platform: platforms[i] })),
      },
      null,
      1,
    ),
  );
  const digest = await pushManifest(reg, repo, options.tag ?? sha256(bytes), bytes, mediaType);
  return { digest, mediaType, size: bytes.length, bytes, children };
}

/**
 * An image of `layers` raw-tar layers of about `layerSize` bytes each, generated as a stream
 * and uploaded with chunked PATCH: memory stays flat whatever the size.
 */
export async function pushLargeImage(
  reg: RawRegistry,
  repo: string,
  options: { layers: number; layerSize: number; chunkSize?: number; tag?: string },
): Promise<PushedImage> {
  const chunkSize = options.chunkSize ?? 8 * 1024 * 1024;
  const fileSize = Math.max(0, options.layerSize - 2048);
  const layers: Descriptor[] = [];
  for (let i = 0; i < options.layers; i++) {
    const size = 512 + fileSize + ((512 - (fileSize % 512)) % 512) + 1024;
    const source = tarStream(`layer-${i}.bin`, fileSize)[Symbol.asyncIterator]();
    const hash = createHash('sha256');
    const open = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: headers(reg) });
    await expectStatus(open, 202, 'POST upload');
    let location = open.headers.get('location');
    let carry: Buffer | null = null;
    for (let offset = 0; offset < size;) {
      const length = Math.min(chunkSize, size - offset);
      const piece = async function* (): AsyncGenerator<Buffer> {
        let left = length;
        while (left > 0) {
          let chunk: Buffer = carry ?? (await source.next()).value;
          carry = null;
          if (chunk.length > left) {
            carry = chunk.subarray(left);
            chunk = chunk.subarray(0, left);
          }
          left -= chunk.length;
          hash.update(chunk);
          yield chunk;
        }
      };
      const res = await fetch(uploadUrl(reg, location), {
        method: 'PATCH',
        headers: headers(reg, {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + length - 1}`,
          'content-length': String(length),
        }),
        body: piece() as unknown as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      await expectStatus(res, 202, 'PATCH chunk');
      location = res.headers.get('location');
      offset += length;
    }
    const digest = 'sha256:' + hash.digest('hex');
    const put = await fetch(uploadUrl(reg, location, digest), { method: 'PUT', headers: headers(reg, { 'content-length': '0' }) });
    await expectStatus(put, 201, 'PUT chunked blob');
    layers.push({ mediaType: MT.ociLayerTar, digest, size });
  }
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
  );
  await pushBlob(reg, repo, config);
  const configDesc: Descriptor = { mediaType: MT.ociConfig, digest: sha256(config), size: config.length };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: configDesc, layers }));
  const digest = await pushManifest(reg, repo, options.tag ?? sha256(bytes), bytes, MT.ociManifest);
  return { digest, mediaType: MT.ociManifest, size: bytes.length, bytes, config: configDesc, layers };
}

async function* tarStream(name: string, fileSize: number): AsyncGenerator<Buffer> {
  yield tarHeader(name, fileSize);
  for (let left = fileSize; left > 0;) {
    const n = Math.min(256 * 1024, left);
    yield randomBytes(n);
    left -= n;
  }
  yield Buffer.alloc(((512 - (fileSize % 512)) % 512) + 1024);
}

/**
 * A cosign-shaped `.sig` (simple-signing payload) or `.att` (DSSE envelope) manifest under the
 * tag `sha256-<hex>.sig|.att`. The signature bytes are random: only the shape matters here.
 */
export async function pushCosignAttachment(
  reg: RawRegistry,
  repo: string,
  imageDigest: string,
  kind: 'sig' | 'att',
): Promise<{ digest: string; tag: string; layer: Descriptor }> {
  const payload =
    kind === 'sig'
      ? Buffer.from(
          JSON.stringify({
            critical: {
              identity: { 'docker-reference': repo },
              image: { 'docker-manifest-digest': imageDigest },
              type: 'cosign container image signature',
            },
            optional: { nonce: randomBytes(8).toString('hex') },
          }),
        )
      : Buffer.from(
          JSON.stringify({
            payloadType: 'application/vnd.in-toto+json',
            payload: Buffer.from(
              JSON.stringify({
                _type: 'https://in-toto.io/Statement/v1',
                subject: [{ name: repo, digest: { sha256: imageDigest.slice(7) } }],
                predicateType: 'https://slsa.dev/verification_summary/v1',
                predicate: {},
              }),
            ).toString('base64'),
            signatures: [{ keyid: '', sig: randomBytes(70).toString('base64') }],
          }),
        );
  await pushBlob(reg, repo, payload);
  const layer: Descriptor = {
    mediaType: kind === 'sig' ? 'application/vnd.dev.cosign.simplesigning.v1+json' : 'application/vnd.dsse.envelope.v1+json',
    digest: sha256(payload),
    size: payload.length,
    annotations:
      kind === 'sig'
        ? { 'dev.cosignproject.cosign/signature': randomBytes(70).toString('base64') }
        : { 'dev.cosignproject.cosign/signature': '', predicateType: 'https://slsa.dev/verification_summary/v1' },
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      config: {},
    }),
  );
  await pushBlob(reg, repo, config);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, size: config.length, digest: sha256(config) },
      layers: [layer],
    }),
  );
  const tag = `sha256-${imageDigest.slice(7)}.${kind}`;
  const digest = await pushManifest(reg, repo, tag, bytes, MT.ociManifest);
  return { digest, tag, layer };
}

/** An OCI 1.1 referrer (artifact manifest with `subject`), pushed by digest only. */
export async function pushReferrer(
  reg: RawRegistry,
  repo: string,
  subject: Descriptor,
  artifactType = 'application/vnd.dev.sigstore.bundle.v0.3+json',
): Promise<Descriptor> {
  const empty = Buffer.from('{}');
  await pushBlob(reg, repo, empty);
  const content = Buffer.from(JSON.stringify({ mediaType: artifactType, nonce: randomBytes(8).toString('hex') }));
  await pushBlob(reg, repo, content);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType,
      config: { mediaType: MT.ociEmpty, digest: sha256(empty), size: 2 },
      layers: [{ mediaType: artifactType, digest: sha256(content), size: content.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    }),
  );
  const digest = await pushManifest(reg, repo, sha256(bytes), bytes, MT.ociManifest);
  return { mediaType: MT.ociManifest, digest, size: bytes.length, artifactType };
}

/** The referrers fallback tag `sha256-<hex>`: an OCI index of referrer descriptors. */
export async function pushReferrersTag(
  reg: RawRegistry,
  repo: string,
  subjectDigest: string,
  referrers: Descriptor[],
): Promise<{ digest: string; tag: string; bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: referrers }));
  const tag = `sha256-${subjectDigest.slice(7)}`;
  return { digest: await pushManifest(reg, repo, tag, bytes, MT.ociIndex), tag, bytes };
}
