import { gzipSync } from 'node:zlib';
import { LAYER_MEDIA_TYPES, rawLayer, type BuiltLayer, type TarEntry } from './layers.js';

// The hostile-image corpus: layers an attacker would push to get past the gates or to take the
// service down, built at run time. Bombs are written directly in the compressed formats, so
// building a 4 GiB bomb costs kilobytes and milliseconds.

const MiB = 1024 * 1024;

/** A ustar header for one regular file of `size` bytes (up to 8 GiB - 1). */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (text: string, at: number, length: number) => h.write(text, at, length, 'ascii');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(size, 12), 124, 12);
  field(octal(0, 12), 136, 12);
  h.fill(' ', 148, 156);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/**
 * A zstd layer whose tar holds one file of `size` zero bytes: a raw block with the tar header,
 * then 128 KiB RLE blocks of zeros (4 bytes each), the tar's end included. 4 GiB is 128 KiB of
 * layer, the shape of the bomb in issue 12. `windowLog` sets the window the frame declares.
 */
export function zstdBomb(size: number, options: { name?: string; windowLog?: number } = {}): BuiltLayer {
  const block = 128 * 1024;
  const header = tarHeader(options.name ?? 'zeros', size);
  const zeros = size + ((512 - (size % 512)) % 512) + 1024;
  const blocks = Math.ceil(zeros / block);
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, ((options.windowLog ?? 17) - 10) << 3])];
  const blockHeader = (last: boolean, type: number, length: number) => {
    const v = (last ? 1 : 0) | (type << 1) | (length << 3);
    return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
  };
  parts.push(blockHeader(false, 0, header.length), header);
  let left = zeros;
  for (let i = 0; i < blocks; i++) {
    const length = Math.min(block, left);
    left -= length;
    parts.push(blockHeader(i === blocks - 1, 1, length), Buffer.from([0]));
  }
  return rawLayer(Buffer.concat(parts), LAYER_MEDIA_TYPES.zstd);
}

/**
 * A gzip layer whose tar holds one file of `size` zero bytes: gzip members may be concatenated, so
 * one compressed MiB of zeros (about 1 KiB) is repeated; 4 GiB is about 4 MiB of layer.
 */
export function gzipBomb(size: number, name = 'zeros'): BuiltLayer {
  const zeros = size + ((512 - (size % 512)) % 512) + 1024;
  const mib = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const parts = [gzipSync(tarHeader(name, size))];
  for (let i = 0; i < Math.floor(zeros / MiB); i++) parts.push(mib);
  if (zeros % MiB) parts.push(gzipSync(Buffer.alloc(zeros % MiB)));
  return rawLayer(Buffer.concat(parts), LAYER_MEDIA_TYPES.gzip);
}

/**
 * Symlinks whose targets are long runs of `./`: `links` links chained one to the next, the last
 * pointing at `target`, each target padded with `dots` `./` components. Issue 12's bomb is 40
 * links of 20,000; with `fanIn` more links pointing at the chain's head, every lookup walks it all.
 */
export function symlinkChain(options: { links: number; dots: number; target: string; head?: string; fanIn?: number }): TarEntry[] {
  const pad = './'.repeat(options.dots);
  const entries: TarEntry[] = [];
  for (let i = 0; i < options.links; i++) {
    const next = i === options.links - 1 ? options.target : `/chain/l${i + 1}`;
    entries.push({ name: `chain/l${i}`, type: 'symlink', linkname: `/${pad}${next.replace(/^\//, '')}` });
  }
  for (let i = 0; i < (options.fanIn ?? 0); i++) entries.push({ name: `fan/f${i}`, type: 'symlink', linkname: '/chain/l0' });
  if (options.head) entries.push({ name: options.head, type: 'symlink', linkname: '/chain/l0' });
  return entries;
}
