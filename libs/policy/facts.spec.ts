import { describe, expect, it } from 'vitest';
import { filesystemSection } from './build-facts.js';
import { gateFactsOf } from './gate-facts.js';

describe('filesystem facts', () => {
  // A usrmerged image: /bin and /sbin link to /usr/bin and /usr/sbin.
  const files: Record<string, { type: 'file' | 'dir' | 'symlink' | 'loop'; real: string | null }> = {
    '/bin/sh': { type: 'file', real: '/usr/bin/dash' },
    '/usr/bin/sh': { type: 'file', real: '/usr/bin/dash' },
    '/bin/bash': { type: 'file', real: '/usr/bin/bash' },
    '/usr/bin/bash': { type: 'file', real: '/usr/bin/bash' },
    '/usr/bin/dpkg': { type: 'file', real: '/usr/bin/dpkg' },
    '/sbin/apk': { type: 'dir', real: '/usr/sbin/apk' },
  };
  const fsOf = (table: typeof files) => ({
    resolve: (path: string) => {
      const f = table[path];
      if (!f) return { problem: 'missing' as const };
      return f.type === 'loop' ? { problem: 'loop' as const } : { entry: { path, type: f.type } as never };
    },
    realpath: (path: string) => table[path]?.real ?? null,
  });
  const fs = fsOf(files);

  it('names each shell once by the first path that reaches it, and package managers by name; directories do not count', () => {
    expect(filesystemSection(fs)).toEqual({
      hasShell: true,
      shells: ['/bin/sh', '/bin/bash'],
      hasPackageManager: true,
      packageManagers: ['dpkg'],
    });
  });

  it('an image without them has none', () => {
    expect(filesystemSection(fsOf({}))).toEqual({ hasShell: false, shells: [], hasPackageManager: false, packageManagers: [] });
  });

  it('a shell behind a link chain longer than maxLinkHops fails closed instead of counting as absent', () => {
    expect(() => filesystemSection(fsOf({ '/bin/sh': { type: 'loop', real: null } }))).toThrow(
      /\/bin\/sh is a symlink chain longer than limits.image.maxLinkHops/,
    );
  });
});

describe('other gates as rules see them', () => {
  it('takes the signature gate signers and the scan gate counts, scalars only', () => {
    const signature = gateFactsOf({
      status: 'passed',
      summary: 'signed',
      evidence: {
        verified: true,
        signers: [
          {
            kind: 'keyless',
            issuer: 'https://token.actions.githubusercontent.com',
            subject: 'repo:acme/web',
            logIndex: 7,
            nested: { x: 1 },
          },
        ],
      },
    });
    expect(signature).toEqual({
      status: 'passed',
      summary: 'signed',
      identities: [{ kind: 'keyless', issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:acme/web', logIndex: 7 }],
    });
    const scan = gateFactsOf({ status: 'failed', summary: '2 critical', evidence: { counts: { critical: 2, high: 0, note: 'x' } } });
    expect(scan).toEqual({ status: 'failed', summary: '2 critical', counts: { critical: 2, high: 0 } });
  });

  it('copes with evidence of any shape', () => {
    for (const evidence of [null, 'text', [], { signers: 'no', counts: [1] }]) {
      expect(gateFactsOf({ status: 'error', summary: 's', evidence })).toEqual({ status: 'error', summary: 's' });
    }
  });
});
