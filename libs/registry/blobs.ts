import { sha256Digest, type Descriptor } from './media-types.js';
import { pullScope, pushScope } from './names.js';
import { RegistryError } from './registry-error.js';
import type { RegistryTransport } from './transport.js';
import { verified } from './verified-stream.js';

/** One repository on one registry. */
export interface Side {
  transport: RegistryTransport;
  repository: string;
}

export async function blobExists(side: Side, digest: string, signal?: AbortSignal): Promise<boolean> {
  const res = await side.transport.request({
    method: 'HEAD',
    target: `/v2/${side.repository}/blobs/${digest}`,
    scopes: [pushScope(side.repository)],
    accept: [200, 404],
    signal,
  });
  await res.discard();
  return res.status === 200;
}

/** A blob's bytes as a stream, checked against its digest and size as they arrive. */
export async function openBlob(
  side: Side,
  blob: Pick<Descriptor, 'digest' | 'size'>,
  signal?: AbortSignal,
): Promise<AsyncGenerator<Uint8Array>> {
  const res = await side.transport.request({
    method: 'GET',
    target: `/v2/${side.repository}/blobs/${blob.digest}`,
    scopes: [pullScope(side.repository)],
    followRedirects: true,
    signal,
  });
  return verified(res.body(), blob.digest, blob.size);
}

/** A small blob (a config, a signature payload) read whole; refused past `limit` bytes. */
export async function readBlob(
  side: Side,
  blob: Pick<Descriptor, 'digest' | 'size'>,
  limit: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  if (blob.size > limit)
    throw new RegistryError('protocol', `blob ${blob.digest} is ${blob.size} bytes, more than the ${limit} allowed here`);
  const parts: Uint8Array[] = [];
  for await (const chunk of await openBlob(side, blob, signal)) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Blobs up to this size are uploaded without asking first whether the registry has them. */
const ASK_FIRST_ABOVE = 64 * 1024;

/**
 * Uploads a small blob (POST, then PUT with the digest). A larger one is skipped when present; a
 * tiny one (a signature payload, a config) is sent anyway: sending it again costs less than the
 * round trip of asking, and the registry stores content by digest, so nothing is duplicated.
 * `existed` is true only when the registry was asked and had it.
 */
export async function pushBlob(side: Side, bytes: Uint8Array, signal?: AbortSignal): Promise<Descriptor & { existed: boolean }> {
  const digest = sha256Digest(bytes);
  const descriptor = { mediaType: 'application/octet-stream', digest, size: bytes.length };
  if (bytes.length > ASK_FIRST_ABOVE && (await blobExists(side, digest, signal))) return { ...descriptor, existed: true };
  const scopes = [pushScope(side.repository)];
  const open = await side.transport.request({
    method: 'POST',
    target: `/v2/${side.repository}/blobs/uploads/`,
    scopes,
    headers: { 'content-length': '0' },
    accept: [202],
    signal,
  });
  await open.discard();
  const url = side.transport.uploadUrl(open.header('location'));
  url.searchParams.set('digest', digest);
  const res = await side.transport.request({
    method: 'PUT',
    target: url,
    scopes,
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(bytes),
    accept: [201],
    signal,
  });
  await res.discard();
  return { ...descriptor, existed: false };
}
