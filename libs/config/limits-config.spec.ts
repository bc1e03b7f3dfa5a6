import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseByteSize } from './limits-config.js';
import { parsePipeline } from './pipeline-config.js';

const BASE = `
registries:
  - name: local
    url: http://127.0.0.1:5000
environments:
  - name: dev
    repository: local/dev/{app}
`;

function problems(text: string): string[] {
  try {
    parsePipeline(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the pipeline to be refused');
}

describe('limits.image', () => {
  it('defaults when absent', () => {
    expect(parsePipeline(BASE).limits.image).toEqual({
      maxUncompressedBytes: 8 * 1024 ** 3,
      maxFileBytes: 32 * 1024 ** 2,
      maxContentBytes: 256 * 1024 ** 2,
      maxEntries: 500_000,
      maxWallTimeMs: 120_000,
      maxPathComponents: 10_000_000,
      maxLinkHops: 40,
    });
  });

  it('reads sizes with units, durations and counts; keys not given keep their defaults', () => {
    const limits = parsePipeline(
      `${BASE}limits: { image: { maxUncompressedBytes: 1GiB, maxFileBytes: 1000000, maxWallTime: 30s, maxLinkHops: 8 } }\n`,
    ).limits.image;
    expect(limits).toMatchObject({
      maxUncompressedBytes: 1024 ** 3,
      maxFileBytes: 1_000_000,
      maxWallTimeMs: 30_000,
      maxLinkHops: 8,
      maxEntries: 500_000,
    });
  });

  it('refuses bad values naming the key', () => {
    expect(problems(`${BASE}limits: { image: { maxUncompressedBytes: 8 gigs } }\n`)).toEqual([
      "limits.image.maxUncompressedBytes: '8 gigs' is not a size (use e.g. 4096, 32MiB, 8GiB)",
    ]);
    expect(problems(`${BASE}limits: { image: { maxFileBytes: 0 } }\n`)).toEqual([
      'limits.image.maxFileBytes: must be a whole number of bytes above zero',
    ]);
    expect(problems(`${BASE}limits: { image: { maxWallTime: 500ms } }\n`)).toEqual(['limits.image.maxWallTime: must be at least 1s']);
    expect(problems(`${BASE}limits: { image: { maxLinkHops: 0 } }\n`)).toEqual(['limits.image.maxLinkHops: must be at least 1']);
    expect(problems(`${BASE}limits: { image: { maxEntries: 1.5 } }\n`)).toEqual(['limits.image.maxEntries: must be a whole number']);
    expect(problems(`${BASE}limits: { image: { maxBytes: 1 } }\n`)[0]).toMatch(/^limits.image: .*maxBytes/);
  });

  it('parses sizes', () => {
    expect(['4096', '1KiB', '1.5MiB', '2 GB', '8GiB'].map(parseByteSize)).toEqual([4096, 1024, 1.5 * 1024 ** 2, 2e9, 8 * 1024 ** 3]);
    expect(() => parseByteSize('1 GiBs')).toThrow(/not a size/);
  });
});
