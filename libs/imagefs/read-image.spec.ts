import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipBomb, symlinkChain, zstdBomb } from '../../test/helpers/hostile-images.js';
import { layer, pushLayers, rawLayer, tarBytes, zstdCompress, type BuiltLayer, type TarEntry } from '../../test/helpers/layers.js';
import { registryConfig, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { RegistryClient } from '#libs/registry/index.js';
import { ImageFsError, readImageFiles, type ReadImageOptions } from './index.js';

describe('readImageFiles against docker-registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let n = 0;

  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient([registryConfig('r', reg)], { env: {} });
  }, 30_000);
  afterAll(async () => {
    await reg?.stop();
  });

  async function read(layers: BuiltLayer[], options: ReadImageOptions = {}) {
    const repo = `fs/img${n++}`;
    const pushed = await pushLayers(reg, repo, layers);
    return readImageFiles(client, { registry: reg.host, repository: repo }, pushed.digest, options);
  }

  async function failure(layers: BuiltLayer[], options: ReadImageOptions = {}): Promise<ImageFsError> {
    const err = await read(layers, options).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageFsError);
    return err as ImageFsError;
  }

  const base: TarEntry[] = [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'ID=debian\n' },
    { name: 'usr/bin/dash', content: 'ELF', mode: 0o755 },
    { name: 'usr/bin/bash', content: 'ELF', mode: 0o755 },
    { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
    { name: 'bin/sh', type: 'symlink', linkname: 'dash' },
  ];

  it.each(['gzip', 'zstd', 'none'] as const)('reads a %s layer: types, modes, sizes and wanted content only', async (compression) => {
    const fs = await read([await layer(base, compression)], { want: (p) => p === '/etc/os-release' });

    expect(fs.layers).toMatchObject([{ compression, entries: 6 }]);
    expect(fs.lstat('/etc/os-release')).toMatchObject({ type: 'file', size: 10, mode: 0o644 });
    expect(fs.read('/etc/os-release')?.toString()).toBe('ID=debian\n');
    expect(fs.lstat('/usr/bin/dash')).toMatchObject({ type: 'file', mode: 0o755, size: 3, content: null });
    expect(fs.lstat('/bin')).toMatchObject({ type: 'symlink', linkTarget: 'usr/bin' });
    expect(fs.stat('/etc')?.type).toBe('dir');
  });

  it('resolves symlinks inside the image: /bin/sh → /usr/bin/dash through a symlinked /bin', async () => {
    const fs = await read([await layer(base)]);

    expect(fs.exists('/bin/sh')).toBe(true);
    expect(fs.realpath('/bin/sh')).toBe('/usr/bin/dash');
    expect(fs.stat('/bin/sh')?.type).toBe('file');
    expect(fs.lstat('/usr/bin/sh')?.type).toBe('symlink');
    expect(fs.exists('/bin/ash')).toBe(false);
    expect(fs.existsAny(['/bin/ash', '/bin/bash'])).toBe(true);
    expect(fs.list('/bin')).toEqual(['bash', 'dash', 'sh']);
  });

  it('a file deleted by a whiteout in a later layer is gone, with everything under a deleted directory', async () => {
    const lower = await layer([
      { name: 'usr/bin/apt', content: 'x' },
      { name: 'var/lib/dpkg/status', content: 'Package: a\n' },
      { name: 'var/lib/dpkg/info/a.list', content: '' },
      { name: 'keep', content: 'k' },
    ]);
    const upper = await layer([
      { name: 'usr/bin/.wh.apt', content: '' },
      { name: 'var/lib/.wh.dpkg', content: '' },
    ]);
    const fs = await read([lower, upper], { want: () => true });

    expect(fs.exists('/usr/bin/apt')).toBe(false);
    expect(fs.exists('/var/lib/dpkg/status')).toBe(false);
    expect(fs.exists('/var/lib/dpkg')).toBe(false);
    expect(fs.exists('/var/lib')).toBe(true);
    expect(fs.read('/keep')?.toString()).toBe('k');
    expect([...fs.entries()].map((e) => e.path)).not.toContain('/usr/bin/.wh.apt');
  });

  it('an opaque directory hides the lower layers only, whatever the entry order in its own layer', async () => {
    const lower = await layer([
      { name: 'app/old.js', content: 'old' },
      { name: 'app/lib/deep.js', content: 'deep' },
    ]);
    const upper = await layer([
      { name: 'app/', type: 'directory' },
      { name: 'app/new.js', content: 'new' },
      { name: 'app/.wh..wh..opq', content: '' },
    ]);
    const fs = await read([lower, upper]);

    expect(fs.list('/app')).toEqual(['new.js']);
    expect(fs.exists('/app/lib/deep.js')).toBe(false);
  });

  it('a path re-created above its whiteout exists with the new content; later layers replace earlier files', async () => {
    const l1 = await layer([{ name: 'etc/os-release', content: 'ID=debian\n' }]);
    const l2 = await layer([{ name: 'etc/.wh.os-release', content: '' }]);
    const l3 = await layer([{ name: 'etc/os-release', content: 'ID=alpine\n' }], 'zstd');
    const fs = await read([l1, l2, l3], { want: (p) => p.startsWith('/etc/') });

    expect(fs.read('/etc/os-release')?.toString()).toBe('ID=alpine\n');
    expect(fs.files().map((f) => f.path)).toEqual(['/etc/os-release']);
  });

  it('normalises ./ and leading / in entry names', async () => {
    const fs = await read(
      [
        await layer([
          { name: './etc/a', content: 'a' },
          { name: '/etc/b', content: 'b' },
        ]),
      ],
      { want: () => true },
    );

    expect(fs.list('/etc')).toEqual(['a', 'b']);
    expect(fs.read('etc/b')?.toString()).toBe('b');
  });

  it('hard links carry their target content', async () => {
    const fs = await read(
      [
        await layer([
          { name: 'usr/bin/python3.11', content: 'PY' },
          { name: 'usr/bin/python3', type: 'link', linkname: 'usr/bin/python3.11' },
        ]),
      ],
      { want: () => true },
    );

    expect(fs.lstat('/usr/bin/python3')).toMatchObject({ type: 'hardlink', linkTarget: '/usr/bin/python3.11', size: 2 });
    expect(fs.read('/usr/bin/python3')?.toString()).toBe('PY');
  });

  it('symlinks pointing out of the root resolve inside the image, never outside', async () => {
    const fs = await read(
      [
        await layer([
          { name: 'etc/os-release', content: 'ID=inside\n' },
          { name: 'escape', type: 'symlink', linkname: '../../../../../../etc/os-release' },
          { name: 'abs', type: 'symlink', linkname: '/etc/os-release' },
          { name: 'host', type: 'symlink', linkname: '../../../../../../etc/passwd' },
          { name: 'loop', type: 'symlink', linkname: 'loop' },
        ]),
      ],
      { want: (p) => p === '/etc/os-release' },
    );

    expect(fs.realpath('/escape')).toBe('/etc/os-release');
    expect(fs.read('/escape')?.toString()).toBe('ID=inside\n');
    expect(fs.read('/abs')?.toString()).toBe('ID=inside\n');
    expect(fs.exists('/host')).toBe(false);
    expect(fs.exists('/loop')).toBe(false);
  });

  it('refuses a tar with ../ entries: unsafe_path', async () => {
    const err = await failure([
      await layer([
        { name: 'ok', content: '' },
        { name: '../../etc/evil', content: 'x' },
      ]),
    ]);

    expect(err.code).toBe('unsafe_path');
    expect(err.message).toContain('../../etc/evil');
  });

  it('a layer that is not a tar: corrupt_layer, not a tar archive', async () => {
    const err = await failure([
      rawLayer(Buffer.from('this is not a tar archive at all'.repeat(40)), 'application/vnd.oci.image.layer.v1.tar'),
    ]);

    expect(err.code).toBe('corrupt_layer');
    expect(err.message).toMatch(/layer 0 \(sha256:[0-9a-f]{64}\): not a tar archive/);
  });

  it('a gzip layer whose gzip stream is truncated: corrupt_layer, truncated', async () => {
    const gz = gzipSync(await tarBytes([{ name: 'big', content: Buffer.alloc(100_000, 7) }]));
    const err = await failure([rawLayer(gz.subarray(0, gz.length - 40), 'application/vnd.oci.image.layer.v1.tar+gzip')]);

    expect(err.code).toBe('corrupt_layer');
    expect(err.message).toContain('gzip stream ends early (truncated)');
  });

  it('a truncated zstd layer and a corrupt one: corrupt_layer with the reason', async () => {
    const zst = zstdCompress(await tarBytes([{ name: 'big', content: Buffer.alloc(100_000, 7) }]));
    const truncated = await failure([rawLayer(zst.subarray(0, zst.length - 10), 'application/vnd.oci.image.layer.v1.tar+zstd')]);
    expect(truncated.code).toBe('corrupt_layer');
    expect(truncated.message).toMatch(/zstd/);

    const corrupt = Buffer.from(zst);
    corrupt.fill(0xff, 12, 40);
    const bad = await failure([rawLayer(corrupt, 'application/vnd.oci.image.layer.v1.tar+zstd')]);
    expect(bad.code).toBe('corrupt_layer');
  });

  it('media type and magic bytes must agree for compressed layers', async () => {
    const tar = await tarBytes([{ name: 'a', content: 'a' }]);
    const err = await failure([rawLayer(tar, 'application/vnd.oci.image.layer.v1.tar+zstd')]);

    expect(err.code).toBe('corrupt_layer');
    expect(err.message).toContain('declared zstd');
  });

  it('a gzip layer under the plain tar media type is still read (the bytes say gzip)', async () => {
    const gz = gzipSync(await tarBytes([{ name: 'a', content: 'a' }]));
    const fs = await read([rawLayer(gz, 'application/vnd.oci.image.layer.v1.tar')]);

    expect(fs.exists('/a')).toBe(true);
  });

  it('empty layers (the gzip of two zero blocks, and no bytes at all) add nothing and are no error', async () => {
    const fs = await read([
      await layer([{ name: 'a', content: 'a' }]),
      rawLayer(gzipSync(Buffer.alloc(1024)), 'application/vnd.oci.image.layer.v1.tar+gzip'),
      rawLayer(Buffer.alloc(0), 'application/vnd.oci.image.layer.v1.tar'),
    ]);

    expect(fs.layers.map((l) => l.entries)).toEqual([1, 0, 0]);
    expect(fs.list('/')).toEqual(['a']);
  });

  it('refuses layers that are not filesystems', async () => {
    const err = await failure([rawLayer(Buffer.from('{}'), 'application/vnd.in-toto+json')]);

    expect(err.code).toBe('unsupported_layer');
  });

  it('stops at maxEntries: too_many_entries', async () => {
    const entries = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: '' }));
    const err = await failure([await layer(entries)], { maxEntries: 20 });

    expect(err.code).toBe('too_many_entries');
    expect(err.message).toContain('20');
  });

  it('keeps no content of wanted files over maxFileBytes', async () => {
    const fs = await read(
      [
        await layer([
          { name: 'big', content: Buffer.alloc(5000) },
          { name: 'small', content: 'ok' },
        ]),
      ],
      { want: () => true, maxFileBytes: 1000 },
    );

    expect(fs.lstat('/big')).toMatchObject({ size: 5000, content: null, contentOmitted: 'too_large' });
    expect(fs.read('/small')?.toString()).toBe('ok');
  });

  it('an index is for the caller to split', async () => {
    const pushed = await pushLayers(reg, 'fs/child', [await layer(base)]);
    const { pushIndexOf } = await import('../../test/helpers/layers.js');
    const index = await pushIndexOf(reg, 'fs/child', [{ ...pushed, architecture: 'amd64' }]);
    const err = await readImageFiles(client, { registry: reg.host, repository: 'fs/child' }, index).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ImageFsError);
    expect((err as ImageFsError).code).toBe('not_a_manifest');
  });

  describe('hostile images: wanted files reached through links, bombs and limits', () => {
    const STATUS = '/var/lib/dpkg/status';
    const wantStatus = (p: string) => p === STATUS;

    it('a wanted file that is a symlink elsewhere is read through the link', async () => {
      const fs = await read(
        [
          await layer([
            { name: 'opt/pkgdb/status', content: 'Package: hidden\n' },
            { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/opt/pkgdb/status' },
          ]),
        ],
        { want: wantStatus },
      );

      expect(fs.files()).toMatchObject([{ path: STATUS, realPath: '/opt/pkgdb/status', problem: null }]);
      expect(fs.files()[0]!.content?.toString()).toBe('Package: hidden\n');
    });

    it('a wanted directory replaced by a symlink in a later layer: the lower layer is read again for the file', async () => {
      const lower = await layer([
        { name: 'var/lib/dpkg/status', content: '' },
        { name: 'opt/pkgdb/status', content: 'Package: hidden\n' },
      ]);
      const upper = await layer([{ name: 'var/lib/dpkg', type: 'symlink', linkname: '../../opt/pkgdb' }]);
      const fs = await read([lower, upper], { want: wantStatus });

      expect(fs.files()).toMatchObject([{ path: STATUS, realPath: '/opt/pkgdb/status', problem: null }]);
      expect(fs.read(STATUS)?.toString()).toBe('Package: hidden\n');
      expect(fs.stats.rereadLayers).toBe(1);
    });

    it('a hard link whose source was not wanted still has the content', async () => {
      const fs = await read(
        [
          await layer([
            { name: 'opt/x/db', content: 'Package: linked\n' },
            { name: 'var/lib/dpkg/status', type: 'link', linkname: 'opt/x/db' },
          ]),
        ],
        { want: wantStatus },
      );

      expect(fs.files()).toMatchObject([{ path: STATUS, problem: null }]);
      expect(fs.files()[0]!.content?.toString()).toBe('Package: linked\n');
    });

    it('a wanted path that does not resolve comes back with its problem, never silently left out', async () => {
      const cases: [TarEntry[], RegExp][] = [
        [[{ name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/nowhere/status' }], /does not resolve/],
        [[{ name: 'var/lib/dpkg/status', type: 'symlink', linkname: 'status' }], /does not end/],
        [[{ name: 'var/lib/dpkg/status', type: 'link', linkname: 'gone' }], /hard link to \/gone/],
        [[{ name: 'var/lib/dpkg/status', type: 'directory' }], /not a regular file/],
        [symlinkChain({ links: 40, dots: 20_000, target: '/opt/status', head: 'var/lib/dpkg/status' }), /longer than 4096 bytes/],
      ];
      for (const [entries, problem] of cases) {
        const fs = await read([await layer(entries)], { want: wantStatus });
        expect(fs.files()).toHaveLength(1);
        expect(fs.files()[0]).toMatchObject({ path: STATUS, content: null });
        expect(fs.files()[0]!.problem).toMatch(problem);
      }
    });

    it('a wanted file over maxFileBytes reached through a link is marked too large, naming the limit', async () => {
      const fs = await read(
        [
          await layer([
            { name: 'opt/big', content: Buffer.alloc(5000) },
            { name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/opt/big' },
          ]),
        ],
        { want: wantStatus, maxFileBytes: 1000 },
      );

      expect(fs.files()[0]!.problem).toContain('limits.image.maxFileBytes');
    });

    it('symlink chains: walking is linear, and total work over maxPathComponents fails closed', async () => {
      const entries = symlinkChain({ links: 40, dots: 2000, target: '/opt/status', head: 'var/lib/dpkg/status', fanIn: 200 });
      const err = await failure([await layer([{ name: 'opt/status', content: 'x' }, ...entries])], { want: wantStatus });

      expect(err.code).toBe('limit_exceeded');
      expect(err.message).toContain('limits.image.maxPathComponents');
      const fs = await read(
        [
          await layer([
            { name: 'opt/status', content: 'x' },
            ...symlinkChain({ links: 39, dots: 2000, target: '/opt/status', head: 'var/lib/dpkg/status' }),
          ]),
        ],
        { want: wantStatus },
      );
      expect(fs.read(STATUS)?.toString()).toBe('x');
    });

    it('more links in one lookup than maxLinkHops is a loop', async () => {
      const entries = symlinkChain({ links: 10, dots: 0, target: '/opt/status', head: 'var/lib/dpkg/status' });
      const fs = await read([await layer([{ name: 'opt/status', content: 'x' }, ...entries])], { want: wantStatus, maxLinkHops: 5 });

      expect(fs.files()[0]!.problem).toContain('limits.image.maxLinkHops');
    });

    it.each([
      ['zstd', () => zstdBomb(1024 * 1024 * 1024)],
      ['gzip', () => gzipBomb(512 * 1024 * 1024)],
    ])('a %s bomb stops at maxUncompressedBytes, naming the limit', async (_kind, bomb) => {
      const err = await failure([bomb()], { maxUncompressedBytes: 32 * 1024 * 1024 });

      expect(err.code).toBe('limit_exceeded');
      expect(err.message).toContain('limits.image.maxUncompressedBytes');
    });

    it('a zstd frame declaring a window over 128 MiB is refused before it is allocated', async () => {
      const err = await failure([zstdBomb(1024 * 1024, { windowLog: 30 })]);

      expect(err.code).toBe('limit_exceeded');
      expect(err.message).toMatch(/zstd frame declares a 1073741824-byte window/);
    });

    it('a small zstd bomb under the limits is read to the end', async () => {
      const fs = await read([zstdBomb(8 * 1024 * 1024)], { want: () => true, maxFileBytes: 64 });

      expect(fs.lstat('/zeros')).toMatchObject({ type: 'file', size: 8 * 1024 * 1024, contentOmitted: 'too_large' });
      expect(fs.stats.uncompressedBytes).toBeGreaterThan(8 * 1024 * 1024);
    });

    it('reading longer than maxWallTime fails closed, naming the limit', async () => {
      const err = await failure([zstdBomb(4 * 1024 * 1024 * 1024)], { maxWallTimeMs: 200 });

      expect(err.code).toBe('limit_exceeded');
      expect(err.message).toContain('limits.image.maxWallTime');
    });
  });
});
