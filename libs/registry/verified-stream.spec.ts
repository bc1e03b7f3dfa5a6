import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseManifest, MediaTypes } from './media-types.js';
import { ChunkReader, verified } from './verified-stream.js';

const digestOf = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

describe('verified', () => {
  const data = Buffer.from('0123456789abcdefghij');

  it('passes matching bytes through', async () => {
    expect((await collect(verified(pieces(data, 3), digestOf(data), data.length))).equals(data)).toBe(true);
  });

  it('withholds the last chunk when the digest or size is wrong', async () => {
    const seen: number[] = [];
    const run = async (digest: string, size: number) => {
      for await (const c of verified(pieces(data, 7), digest, size)) seen.push(c.length);
    };
    await expect(run(digestOf(Buffer.from('other')), data.length)).rejects.toMatchObject({ code: 'digest_mismatch' });
    expect(seen.reduce((a, b) => a + b, 0)).toBeLessThan(data.length);
    await expect(run(digestOf(data), data.length - 1)).rejects.toMatchObject({ code: 'digest_mismatch' });
    await expect(run(digestOf(data), data.length + 1)).rejects.toMatchObject({ code: 'digest_mismatch' });
  });
});

describe('ChunkReader', () => {
  it('cuts a stream into exact consecutive pieces', async () => {
    const data = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const reader = new ChunkReader(pieces(data, 7));
    const parts = [await collect(reader.take(30)), await collect(reader.take(30)), await collect(reader.take(40))];
    await reader.finish();
    expect(parts.map((p) => p.length)).toEqual([30, 30, 40]);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('refuses a stream longer than declared', async () => {
    const reader = new ChunkReader(pieces(Buffer.alloc(10), 4));
    await collect(reader.take(8));
    await expect(reader.finish()).rejects.toThrow(/longer than declared/);
  });
});

describe('parseManifest', () => {
  const body = (o: unknown) => Buffer.from(JSON.stringify(o));
  const d = { mediaType: MediaTypes.ociConfig, digest: 'sha256:' + 'a'.repeat(64), size: 2 };

  it('takes the media type from the header, else the document, else its shape', () => {
    expect(parseManifest(body({ config: d, layers: [] }), `${MediaTypes.dockerManifest}; charset=utf-8`, null).mediaType).toBe(
      MediaTypes.dockerManifest,
    );
    expect(parseManifest(body({ mediaType: MediaTypes.dockerManifestList, manifests: [] }), 'application/json', null).mediaType).toBe(
      MediaTypes.dockerManifestList,
    );
    expect(parseManifest(body({ manifests: [] }), null, null).mediaType).toBe(MediaTypes.ociIndex);
    expect(parseManifest(body({ config: d, layers: [] }), null, null).mediaType).toBe(MediaTypes.ociManifest);
  });

  it('refuses bytes that do not hash to the requested digest, and malformed descriptors', () => {
    const bytes = body({ config: d, layers: [] });
    expect(parseManifest(bytes, null, digestOf(bytes)).digest).toBe(digestOf(bytes));
    expect(() => parseManifest(bytes, null, 'sha256:' + 'b'.repeat(64))).toThrow(expect.objectContaining({ code: 'digest_mismatch' }));
    expect(() => parseManifest(body({ layers: [{ digest: '../x', size: 1 }] }), null, null)).toThrow(
      expect.objectContaining({ code: 'protocol' }),
    );
    expect(() => parseManifest(Buffer.from('not json'), null, null)).toThrow(expect.objectContaining({ code: 'protocol' }));
  });
});
