import { setTimeout as sleep } from 'node:timers/promises';
import type { Descriptor } from './media-types.js';
import { pullScope, pushScope } from './names.js';
import { RegistryError } from './registry-error.js';
import { backoffDelay, type RetryOptions } from './retry.js';
import { blobExists, type Side } from './blobs.js';
import { ChunkReader, verified } from './verified-stream.js';

export interface BlobCopyOptions {
  /** Blobs at least this large are uploaded in chunks (PATCH), smaller ones in one PUT. */
  chunkThreshold: number;
  chunkSize: number;
  retries: RetryOptions;
  mount: boolean;
  signal?: AbortSignal;
}

/** Bytes of one blob streamed so far in the current attempt (a retry starts again from 0). */
export type BytesStreamed = (digest: string, bytes: number) => void;

export type BlobOutcome = 'skipped' | 'mounted' | 'copied';
export type { Side };

const OCTETS = 'application/octet-stream';

/** Makes one blob present in the target repository: skip, mount, or stream it across. */
export async function copyBlob(
  src: Side,
  dst: Side,
  blob: Descriptor,
  options: BlobCopyOptions,
  onBytes?: BytesStreamed,
): Promise<BlobOutcome> {
  const sameRegistry = src.transport === dst.transport;
  if (sameRegistry && src.repository === dst.repository) return 'skipped';
  for (let attempt = 1; ; attempt++) {
    try {
      if (await blobExists(dst, blob.digest, options.signal)) return 'skipped';
      let session: URL;
      if (sameRegistry && options.mount) {
        const mounted = await mount(src, dst, blob.digest, options.signal);
        if (mounted === true) return 'mounted';
        session = mounted;
      } else {
        session = await openUpload(dst, options.signal);
      }
      await upload(src, dst, session, blob, options, onBytes);
      return 'copied';
    } catch (err) {
      // A streamed body cannot be replayed: the whole blob is fetched and uploaded again.
      if (!(err instanceof RegistryError) || !err.retryable || attempt >= options.retries.attempts) throw err;
      await sleep(backoffDelay(options.retries, attempt), undefined, { signal: options.signal });
    }
  }
}

/** true when mounted; otherwise the upload session the registry opened instead (202). */
async function mount(src: Side, dst: Side, digest: string, signal?: AbortSignal): Promise<true | URL> {
  const query = new URLSearchParams({ mount: digest, from: src.repository });
  const res = await dst.transport.request({
    method: 'POST',
    target: `/v2/${dst.repository}/blobs/uploads/?${query}`,
    scopes: [pushScope(dst.repository), pullScope(src.repository)],
    headers: { 'content-length': '0' },
    accept: [201, 202],
    signal,
  });
  await res.discard();
  return res.status === 201 ? true : dst.transport.uploadUrl(res.header('location'));
}

async function openUpload(dst: Side, signal?: AbortSignal): Promise<URL> {
  const res = await dst.transport.request({
    method: 'POST',
    target: `/v2/${dst.repository}/blobs/uploads/`,
    scopes: [pushScope(dst.repository)],
    headers: { 'content-length': '0' },
    accept: [202],
    signal,
  });
  await res.discard();
  return dst.transport.uploadUrl(res.header('location'));
}

async function upload(
  src: Side,
  dst: Side,
  session: URL,
  blob: Descriptor,
  options: BlobCopyOptions,
  onBytes?: BytesStreamed,
): Promise<void> {
  const { signal } = options;
  let location = session;
  let committed = false;
  const source = await src.transport.request({
    method: 'GET',
    target: `/v2/${src.repository}/blobs/${blob.digest}`,
    scopes: [pullScope(src.repository)],
    followRedirects: true,
    signal,
  });
  try {
    const declared = source.header('content-length');
    if (declared !== null && Number(declared) !== blob.size) {
      throw new RegistryError(
        'digest_mismatch',
        `blob ${blob.digest}: source sends ${declared} bytes, its descriptor declares ${blob.size}`,
      );
    }
    const bytes = counted(verified(source.body(), blob.digest, blob.size), blob.digest, onBytes);
    const scopes = [pushScope(dst.repository)];
    if (blob.size < options.chunkThreshold) {
      const res = await dst.transport.request({
        method: 'PUT',
        target: withDigest(location, blob.digest),
        scopes,
        headers: { 'content-type': OCTETS },
        body: { stream: bytes, length: blob.size },
        accept: [201],
        signal,
      });
      await res.discard();
      checkCommitted(res.header('docker-content-digest'), blob.digest);
    } else {
      const reader = new ChunkReader(bytes);
      try {
        for (let offset = 0; offset < blob.size;) {
          const length = Math.min(options.chunkSize, blob.size - offset);
          const res = await dst.transport.request({
            method: 'PATCH',
            target: location,
            scopes,
            headers: { 'content-type': OCTETS, 'content-range': `${offset}-${offset + length - 1}` },
            body: { stream: reader.take(length), length },
            accept: [202],
            signal,
          });
          await res.discard();
          location = dst.transport.uploadUrl(res.header('location') ?? location.href);
          offset += length;
        }
        await reader.finish();
      } finally {
        await reader.close();
      }
      const res = await dst.transport.request({
        method: 'PUT',
        target: withDigest(location, blob.digest),
        scopes,
        headers: { 'content-length': '0' },
        accept: [201],
        signal,
      });
      await res.discard();
      checkCommitted(res.header('docker-content-digest'), blob.digest);
    }
    committed = true;
  } finally {
    await source.discard();
    if (!committed) await cancelUpload(dst, location);
  }
}

async function* counted(source: AsyncIterable<Uint8Array>, digest: string, onBytes?: BytesStreamed): AsyncGenerator<Uint8Array> {
  if (!onBytes) return yield* source;
  let seen = 0;
  onBytes(digest, 0);
  for await (const chunk of source) {
    yield chunk;
    seen += chunk.length;
    onBytes(digest, seen);
  }
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

function checkCommitted(header: string | null, digest: string): void {
  if (header !== null && header !== digest) {
    throw new RegistryError('digest_mismatch', `registry stored blob ${digest} as ${header}`);
  }
}

async function cancelUpload(dst: Side, location: URL): Promise<void> {
  try {
    const res = await dst.transport.request({
      method: 'DELETE',
      target: location,
      scopes: [pushScope(dst.repository)],
      accept: [204, 404, 405],
    });
    await res.discard();
  } catch {
    // The registry expires abandoned sessions on its own.
  }
}
