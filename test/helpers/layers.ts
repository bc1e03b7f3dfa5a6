import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { MT, pushBlob, pushManifest, sha256, type Descriptor, type RawRegistry } from './images.js';

// Filesystem layers written in the test (tar-stream pack; gzip, zstd or plain), pushed through the
// raw distribution API, for tests of the image reader and the scanner.

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Uint8Array;
  linkname?: string;
  mode?: number;
}

export type Compression = 'gzip' | 'zstd' | 'none';

export const LAYER_MEDIA_TYPES: Record<Compression, string> = {
  gzip: MT.ociLayerGzip,
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  none: MT.ociLayerTar,
};

/** A tar archive of the entries, in order. */
export async function tarBytes(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p) out.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        linkname: e.linkname,
        mtime: new Date(0),
      };
      if (content) p.entry(header, content, (err) => (err ? reject(err) : resolve()));
      else p.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(out);
}

/** zstd through the zstd CLI (fzstd only decompresses). */
export function zstdCompress(data: Uint8Array): Buffer {
  const run = spawnSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
  if (run.status !== 0) throw new Error(`zstd failed: ${run.stderr?.toString() ?? run.error?.message}`);
  return run.stdout;
}

export interface BuiltLayer {
  bytes: Buffer;
  mediaType: string;
  diffId: string;
}

export async function layer(entries: TarEntry[], compression: Compression = 'gzip'): Promise<BuiltLayer> {
  const tar = await tarBytes(entries);
  return rawLayer(
    compression === 'gzip' ? gzipSync(tar) : compression === 'zstd' ? zstdCompress(tar) : tar,
    LAYER_MEDIA_TYPES[compression],
    sha256(tar),
  );
}

/** A layer of arbitrary bytes under any media type (for bad input). */
export function rawLayer(bytes: Buffer, mediaType: string, diffId = sha256(bytes)): BuiltLayer {
  return { bytes, mediaType, diffId };
}

/** Pushes the layers, a config and an OCI manifest; returns the manifest digest. */
export async function pushLayers(
  reg: RawRegistry,
  repo: string,
  layers: BuiltLayer[],
  options: {
    tag?: string;
    architecture?: string;
    config?: Record<string, unknown>;
    created?: string;
    annotations?: Record<string, string>;
  } = {},
): Promise<{ digest: string; size: number; layers: Descriptor[] }> {
  const descriptors: Descriptor[] = [];
  for (const l of layers) {
    await pushBlob(reg, repo, l.bytes);
    descriptors.push({ mediaType: l.mediaType, digest: sha256(l.bytes), size: l.bytes.length });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: 'linux',
      ...(options.created ? { created: options.created } : {}),
      config: options.config ?? {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  await pushBlob(reg, repo, config);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
      layers: descriptors,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    }),
  );
  const digest = await pushManifest(reg, repo, options.tag ?? sha256(bytes), bytes, MT.ociManifest);
  return { digest, size: bytes.length, layers: descriptors };
}

/** An OCI index over already pushed manifests. */
export async function pushIndexOf(
  reg: RawRegistry,
  repo: string,
  children: { digest: string; size: number; architecture: string }[],
  tag?: string,
): Promise<string> {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: children.map((c) => ({
        mediaType: MT.ociManifest,
        digest: c.digest,
        size: c.size,
        platform: { architecture: c.architecture, os: 'linux' },
      })),
    }),
  );
  return pushManifest(reg, repo, tag ?? sha256(bytes), bytes, MT.ociIndex);
}
