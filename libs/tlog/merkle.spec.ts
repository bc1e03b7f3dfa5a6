import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  nodeHash,
  rangeHash,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type NodeId,
} from './merkle.js';

// The RFC's definitions, written out literally, as the reference the stored-node code must match.
function mth(leaves: Buffer[]): Hash {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leafHash(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function path(m: number, d: Buffer[]): Hash[] {
  if (d.length <= 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Buffer[], b: boolean): Hash[] {
  if (m === d.length) return b ? [] : [mth(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

const leaves = Array.from({ length: 70 }, (_, i) => Buffer.from(`leaf ${i}`));

/** Builds the tree with CompactRange, keeping every node it completes, as the integrator does. */
function stored(n: number) {
  const nodes = new Map<string, Hash>();
  const range = CompactRange.empty();
  for (const leaf of leaves.slice(0, n)) range.append(leafHash(leaf), (id, h) => nodes.set(`${id.level}/${id.index}`, h));
  return { range, node: (id: NodeId) => nodes.get(`${id.level}/${id.index}`)! };
}

describe('Merkle tree', () => {
  it('computes the RFC 9162 root from the compact range for every size', () => {
    for (let n = 0; n <= leaves.length; n++)
      expect(
        stored(n)
          .range.root()
          .equals(mth(leaves.slice(0, n))),
      ).toBe(true);
  });

  it('resumes a compact range from its stored nodes', () => {
    const { range, node } = stored(45);
    const resumed = CompactRange.of(45, CompactRange.ids(45).map(node));
    resumed.append(leafHash(leaves[45]!));
    expect(resumed.root().equals(mth(leaves.slice(0, 46)))).toBe(true);
    expect(range.hashes().map((h) => h.toString('hex'))).toEqual(
      CompactRange.ids(45)
        .map(node)
        .map((h) => h.toString('hex')),
    );
  });

  it('builds inclusion proofs equal to the RFC PATH that verify, and rejects altered ones', () => {
    for (let n = 1; n <= 33; n++) {
      const { node } = stored(n);
      const root = mth(leaves.slice(0, n));
      for (let m = 0; m < n; m++) {
        const proof = inclusionRanges(m, n).map(([a, b]) => rangeHash(a, b, node));
        expect(proof.map((h) => h.toString('hex'))).toEqual(path(m, leaves.slice(0, n)).map((h) => h.toString('hex')));
        expect(verifyInclusion(m, n, leafHash(leaves[m]!), proof, root)).toBe(true);
        expect(verifyInclusion(m, n, leafHash(Buffer.from('other')), proof, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, leafHash(leaves[m]!), proof, root)).toBe(false);
      }
    }
  });

  it('builds consistency proofs equal to the RFC PROOF that verify, and rejects a rewritten history', () => {
    for (let n = 1; n <= 33; n++) {
      const { node } = stored(n);
      for (let m = 0; m <= n; m++) {
        const proof = consistencyRanges(m, n).map(([a, b]) => rangeHash(a, b, node));
        if (m > 0) expect(proof.map((h) => h.toString('hex'))).toEqual(subproof(m, leaves.slice(0, n), true).map((h) => h.toString('hex')));
        expect(verifyConsistency(m, n, mth(leaves.slice(0, m)), mth(leaves.slice(0, n)), proof)).toBe(true);
        if (m > 0 && m < n) {
          const forged = [...leaves.slice(0, n)];
          forged[m - 1] = Buffer.from('forged');
          expect(verifyConsistency(m, n, mth(leaves.slice(0, m)), mth(forged), proof)).toBe(false);
        }
      }
    }
  });

  it('refuses proofs for sizes out of range', () => {
    expect(() => inclusionRanges(5, 5)).toThrow(RangeError);
    expect(() => consistencyRanges(6, 5)).toThrow(RangeError);
    expect(verifyInclusion(5, 5, leafHash(leaves[0]!), [], mth(leaves.slice(0, 5)))).toBe(false);
  });
});
