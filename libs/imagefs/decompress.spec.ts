import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { zstdBomb } from '../../test/helpers/hostile-images.js';
import { ImageFsError } from './errors.js';
import { zstdDecompress } from './decompress.js';

function zstd(data: Uint8Array, ...args: string[]): Buffer {
  const run = spawnSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(run.stderr.toString());
  return run.stdout;
}

async function decompress(bytes: Uint8Array, chunk = 4096): Promise<Buffer> {
  async function* chunks() {
    for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
  }
  const out: Buffer[] = [];
  for await (const b of zstdDecompress(chunks())) out.push(b);
  return Buffer.concat(out);
}

describe('streaming zstd with its frame guard', () => {
  // Compressible and incompressible parts, so both compressed and raw blocks appear.
  const data = Buffer.concat([Buffer.from('package database '.repeat(40_000)), randomBytes(300_000), Buffer.alloc(500_000, 7)]);

  it.each([
    ['level 3 with checksum', ['-3']],
    ['no checksum', ['-3', '--no-check']],
    ['level 19, 8 MiB window', ['-19']],
    ['a 128 MiB window (--long=27), the most accepted', ['--long=27']],
  ])('decompresses what the zstd CLI writes: %s', async (_name, args) => {
    expect((await decompress(zstd(data, ...args))).equals(data)).toBe(true);
  });

  it('concatenated frames and skippable frames, fed in odd-sized chunks', async () => {
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('hello')]);
    const stream = Buffer.concat([zstd(data.subarray(0, 100_000)), skippable, zstd(data.subarray(100_000))]);
    for (const chunk of [7, 255, 65_536]) expect((await decompress(stream, chunk)).equals(data), String(chunk)).toBe(true);
  }, 30_000);

  it('refuses a window over 128 MiB (--long=28) before fzstd allocates it', async () => {
    const err = await decompress(zstd(Buffer.alloc(1000), '--long=28', '--zstd=wlog=28')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFsError);
    expect((err as ImageFsError).message).toBe('a zstd frame declares a 268435456-byte window, more than the 134217728 bytes accepted');
  });

  it('refuses a block that claims more than 128 KiB', async () => {
    const bomb = Buffer.from(zstdBomb(1024 * 1024).bytes);
    // The first RLE block after the raw tar header: claim 2 MiB.
    const at = 6 + 3 + 512;
    const v = 1 | (1 << 1) | ((2 * 1024 * 1024 - 1) << 3);
    bomb[at] = v & 0xff;
    bomb[at + 1] = (v >> 8) & 0xff;
    bomb[at + 2] = (v >> 16) & 0xff;
    await expect(decompress(bomb)).rejects.toThrow('a zstd block claims 2097151 bytes, more than the 128 KiB a block may hold');
  });
});
