import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and the tlog-checkpoint
// body they carry (https://c2sp.org/tlog-checkpoint). Parsers are strict and bounded: a note an
// attacker hands us is refused with a reason rather than half-understood.

export class NoteError extends Error {
  override readonly name = 'NoteError';
}

const ED25519_TYPE = 0x01;
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 100;
const SIGNATURE_PREFIX = '\u2014 ';

export interface NoteVerifier {
  name: string;
  /** The 4-byte key hash as an unsigned integer. */
  keyHash: number;
  key: KeyObject;
  /** `<name>+<8 hex digits>+<base64 of 0x01 || key>`. */
  vkey: string;
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > 256 || /[\s+]/u.test(name) || /[\u0000-\u001f\u007f]/u.test(name)) {
    throw new NoteError(`key name '${name.slice(0, 60)}' must be non-empty, at most 256 characters, with no spaces or '+'`);
  }
}

function rawEd25519(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') throw new NoteError(`the audit key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return Buffer.from(pub.export({ type: 'spki', format: 'der' }).subarray(SPKI_ED25519_PREFIX.length));
}

function keyHash(name: string, raw: Buffer): number {
  return createHash('sha256')
    .update(name + '\n')
    .update(Buffer.from([ED25519_TYPE]))
    .update(raw)
    .digest()
    .readUInt32BE(0);
}

/** The verifier for an Ed25519 key (private or public) under a key name. */
export function noteVerifier(name: string, key: KeyObject): NoteVerifier {
  checkName(name);
  const raw = rawEd25519(key);
  const hash = keyHash(name, raw);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const vkey = `${name}+${hash.toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([ED25519_TYPE]), raw]).toString('base64')}`;
  return { name, keyHash: hash, key: pub, vkey };
}

/** Parses a verifier key string `<name>+<hash>+<base64 key>` and checks that its hash matches. */
export function parseVkey(text: string): NoteVerifier {
  const trimmed = text.trim();
  if (trimmed.length > 1024) throw new NoteError('verifier key is longer than 1024 characters');
  // The base64 key may itself contain '+': only the first two separate fields.
  const first = trimmed.indexOf('+');
  const second = first < 0 ? -1 : trimmed.indexOf('+', first + 1);
  if (second < 0) throw new NoteError('verifier key must be <name>+<8 hex digits>+<base64 key>');
  const [name, hashHex, b64] = [trimmed.slice(0, first), trimmed.slice(first + 1, second), trimmed.slice(second + 1)];
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hashHex)) throw new NoteError('verifier key hash must be 8 lowercase hex digits');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new NoteError('verifier key is not base64');
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== 33 || bytes[0] !== ED25519_TYPE)
    throw new NoteError('verifier key is not an Ed25519 key (0x01 followed by 32 bytes)');
  const raw = bytes.subarray(1);
  if (keyHash(name, raw) !== parseInt(hashHex, 16)) throw new NoteError('verifier key hash does not match its name and key');
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  return noteVerifier(name, key);
}

/** Signs `text` (which must end in a newline) as a note with one signature line. */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  checkText(text);
  const verifier = noteVerifier(name, privateKey);
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(verifier.keyHash);
  return `${text}\n${SIGNATURE_PREFIX}${name} ${Buffer.concat([prefix, sig]).toString('base64')}\n`;
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/u.test(text)) throw new NoteError('note text contains control characters');
}

export interface OpenedNote {
  text: string;
  /** The names of the keys among `verifiers` whose signatures verified. */
  verifiedBy: string[];
}

/**
 * Splits a signed note and checks its signatures against the verifiers. Signatures by unknown
 * keys are ignored, as the spec says; at least one known key must have signed, and a known key
 * with a bad signature makes the whole note invalid.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw new NoteError(`note is larger than ${MAX_NOTE_BYTES} bytes`);
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  checkText(text);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  const verifiedBy: string[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteError('malformed note: a signature line must start with an em dash and a space');
    const [name, b64, extra] = line.slice(SIGNATURE_PREFIX.length).split(' ');
    if (!name || !b64 || extra !== undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new NoteError('malformed signature line');
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length < 5) throw new NoteError('malformed signature line: too short');
    const hash = bytes.readUInt32BE(0);
    const verifier = verifiers.find((v) => v.name === name && v.keyHash === hash);
    if (!verifier) continue;
    if (!verify(null, Buffer.from(text, 'utf8'), verifier.key, bytes.subarray(4))) {
      throw new NoteError(`the signature by ${name} does not verify`);
    }
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) throw new NoteError('no signature by a known key');
  return { text, verifiedBy };
}

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  /** Extension lines after the root hash, verbatim. */
  extensions: string[];
}

/** The tlog-checkpoint body: origin, decimal size, base64 root hash, each on its own line. */
export function formatCheckpoint(origin: string, size: number, rootHash: Buffer): string {
  if (!origin || /[\n\r]/.test(origin)) throw new NoteError('checkpoint origin must be one non-empty line');
  if (!Number.isSafeInteger(size) || size < 0) throw new NoteError('checkpoint size must be a non-negative integer');
  if (rootHash.length !== 32) throw new NoteError('checkpoint root hash must be 32 bytes');
  return `${origin}\n${size}\n${rootHash.toString('base64')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines.at(-1) !== '') throw new NoteError('checkpoint must have an origin, a size and a root hash line');
  const [origin, size, root, ...rest] = lines.slice(0, -1) as [string, string, string, ...string[]];
  if (!origin) throw new NoteError('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size)))
    throw new NoteError('checkpoint size is not a decimal number');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(root)) throw new NoteError('checkpoint root hash is not 32 bytes of base64');
  return { origin, size: Number(size), rootHash: Buffer.from(root, 'base64'), extensions: rest };
}

/** Opens a signed checkpoint: verifies its signature by `verifier` and, when given, its origin. */
export function openCheckpoint(note: string, verifier: NoteVerifier, origin?: string): Checkpoint {
  const { text } = openNote(note, [verifier]);
  const checkpoint = parseCheckpoint(text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new NoteError(`checkpoint origin '${checkpoint.origin}' is not the log's origin '${origin}'`);
  }
  return checkpoint;
}
