// A minimal DER reader: just enough to find X.509 extensions that node:crypto does not expose
// (Fulcio's OIDC issuer, SANs, key usage). Every read is bounds-checked; bad input throws DerError.

export class DerError extends Error {
  override readonly name = 'DerError';
}

export interface DerNode {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  tag: number;
  /** The whole TLV. */
  bytes: Buffer;
  /** The contents only. */
  value: Buffer;
}

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
} as const;

const MAX_LENGTH_OCTETS = 4;

/** Reads the TLV at `offset`; returns it and the offset just past it. */
export function readNode(buf: Buffer, offset = 0): { node: DerNode; next: number } {
  if (offset + 2 > buf.length) throw new DerError('truncated DER header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used in certificates');
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > MAX_LENGTH_OCTETS) throw new DerError('unsupported DER length');
    if (offset + 2 + octets > buf.length) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + buf[offset + 2 + i]!;
    if (length < 0x80 || buf[offset + 2] === 0) throw new DerError('non-minimal DER length');
    header += octets;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError('DER value runs past its container');
  return { node: { tag, bytes: buf.subarray(offset, end), value: buf.subarray(offset + header, end) }, next: end };
}

/** Parses a buffer that must hold exactly one TLV. */
export function parseDer(buf: Buffer): DerNode {
  const { node, next } = readNode(buf, 0);
  if (next !== buf.length) throw new DerError('trailing bytes after DER value');
  return node;
}

export function children(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new DerError(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let offset = 0; offset < node.value.length;) {
    const { node: child, next } = readNode(node.value, offset);
    out.push(child);
    offset = next;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
  return node;
}

export function decodeOid(node: DerNode): string {
  expectTag(node, Tag.oid, 'OID');
  const v = node.value;
  if (v.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    acc = acc * 128 + (v[i]! & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((v[i]! & 0x80) === 0) {
      parts.push(acc);
      acc = 0;
    } else if (i === v.length - 1) throw new DerError('truncated OID');
  }
  const first = parts.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/**
 * True when `sig` is a DER ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s }, nothing after it.
 * Lets a verifier tell a truncated or non-DER signature from one by an unknown key.
 */
export function isDerEcdsaSignature(sig: Buffer): boolean {
  try {
    const seq = expectTag(parseDer(sig), Tag.sequence, 'signature');
    const parts = children(seq);
    return parts.length === 2 && parts.every((p) => p.tag === Tag.integer && p.value.length > 0 && p.value.length <= 67);
  } catch {
    return false;
  }
}
