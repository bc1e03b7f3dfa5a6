import { createHash } from 'node:crypto';

// RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing and proofs, section 2.1.
// Hashes are raw 32-byte buffers; sizes and indexes are plain numbers (2^53 leaves is enough).

export type Hash = Buffer;

export const EMPTY_ROOT: Hash = createHash('sha256').digest();

export function leafHash(leaf: Uint8Array): Hash {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

/** A complete subtree: leaves [index·2^level, (index+1)·2^level). Such nodes never change once they exist. */
export interface NodeId {
  level: number;
  index: number;
}

/** The largest power of two smaller than n (n > 1), the split point of MTH(D[n]). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The complete subtrees whose hashes make MTH(D[a:b]), left to right, as the RFC recursion splits it. */
export function rangeNodes(a: number, b: number, out: NodeId[] = []): NodeId[] {
  const size = b - a;
  if (size <= 0) throw new RangeError(`empty range [${a}, ${b})`);
  if ((size & (size - 1)) === 0 && a % size === 0) {
    out.push({ level: Math.log2(size), index: a / size });
    return out;
  }
  const k = splitPoint(size);
  rangeNodes(a, a + k, out);
  rangeNodes(a + k, b, out);
  return out;
}

/** MTH(D[a:b]) from the hashes of its complete subtrees (as rangeNodes lists them). */
export function rangeHash(a: number, b: number, node: (id: NodeId) => Hash): Hash {
  const size = b - a;
  if ((size & (size - 1)) === 0 && a % size === 0) return node({ level: Math.log2(size), index: a / size });
  const k = splitPoint(size);
  return nodeHash(rangeHash(a, a + k, node), rangeHash(a + k, b, node));
}

/** The ranges [a, b) whose hashes form the inclusion proof of leaf m in a tree of n leaves (RFC 9162 2.1.3.1), leaf first. */
export function inclusionRanges(m: number, n: number): Array<[number, number]> {
  if (!(m >= 0 && m < n)) throw new RangeError(`leaf ${m} is not in a tree of ${n}`);
  const out: Array<[number, number]> = [];
  const walk = (m: number, a: number, b: number): void => {
    if (b - a <= 1) return;
    const k = splitPoint(b - a);
    if (m < k) {
      walk(m, a, a + k);
      out.push([a + k, b]);
    } else {
      walk(m - k, a + k, b);
      out.push([a, a + k]);
    }
  };
  walk(m, 0, n);
  return out;
}

/** The ranges whose hashes form the consistency proof from size m to size n (RFC 9162 2.1.4.1). */
export function consistencyRanges(m: number, n: number): Array<[number, number]> {
  if (!(m >= 0 && m <= n)) throw new RangeError(`no consistency proof from ${m} to ${n}`);
  const out: Array<[number, number]> = [];
  if (m === 0 || m === n) return out;
  const sub = (m: number, a: number, b: number, complete: boolean): void => {
    if (m === b - a) {
      if (!complete) out.push([a, b]);
      return;
    }
    const k = splitPoint(b - a);
    if (m <= k) {
      sub(m, a, a + k, complete);
      out.push([a + k, b]);
    } else {
      sub(m - k, a + k, b, false);
      out.push([a, a + k]);
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** RFC 9162 2.1.3.2: does `proof` show the leaf with this hash at `index` in the tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Hash, proof: readonly Hash[], root: Hash): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 2.1.4.2: does `proof` show that the tree of `size1` with `root1` is a prefix of the one of `size2`/`root2`? */
export function verifyConsistency(size1: number, size2: number, root1: Hash, root2: Hash, proof: readonly Hash[]): boolean {
  if (!(size1 >= 0 && size1 <= size2)) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/**
 * The right edge of a growing tree: the complete subtrees that cover [0, size), largest first.
 * Appending a leaf merges equal neighbours; every node it completes is reported once, so a
 * store that keeps them can answer any proof with O(log n) reads.
 */
export class CompactRange {
  private constructor(
    private _size: number,
    private readonly nodes: Hash[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** The complete subtrees a range over [0, size) is made of, largest first. */
  static ids(size: number): NodeId[] {
    const ids: NodeId[] = [];
    let start = 0;
    for (let level = 52; level >= 0; level--) {
      const width = 2 ** level;
      if (Math.floor(size / width) % 2 === 1) {
        ids.push({ level, index: start / width });
        start += width;
      }
    }
    return ids;
  }

  /** Resumes from stored nodes, in the order `ids(size)` lists them. */
  static of(size: number, hashes: readonly Hash[]): CompactRange {
    if (hashes.length !== CompactRange.ids(size).length)
      throw new RangeError(`a range over ${size} leaves has ${CompactRange.ids(size).length} nodes, not ${hashes.length}`);
    return new CompactRange(size, [...hashes]);
  }

  get size(): number {
    return this._size;
  }

  /** Appends a leaf hash; `completed` receives each complete subtree this finishes, the leaf first. */
  append(leaf: Hash, completed?: (id: NodeId, hash: Hash) => void): void {
    let hash = leaf;
    let level = 0;
    let index = this._size;
    completed?.({ level, index }, hash);
    // Each trailing 1-bit of the old size is a left sibling waiting for this subtree.
    let size = this._size;
    while (size % 2 === 1) {
      hash = nodeHash(this.nodes.pop()!, hash);
      level += 1;
      index = Math.floor(index / 2);
      completed?.({ level, index }, hash);
      size = Math.floor(size / 2);
    }
    this.nodes.push(hash);
    this._size += 1;
  }

  /** MTH of the whole range: the nodes folded from the right. */
  root(): Hash {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes.at(-1)!;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i]!, r);
    return r;
  }

  hashes(): Hash[] {
    return [...this.nodes];
  }
}
