import { CompactRange, leafHash, verifyInclusion } from './merkle.js';
import { NoteError, openCheckpoint, type Checkpoint, type NoteVerifier } from './note.js';

// An audit export is JSON lines: one per event, with `index` (its leaf index) and `leaf` (base64 of
// the exact leaf bytes) beside the event's fields, and `proof` (its inclusion path to the final
// checkpoint) in partial exports; the last line is {"checkpoint": "<signed note>"}.

export interface ExportReport {
  ok: boolean;
  events: number;
  /** A whole-log export rebuilds the checkpoint's root; a partial one proves each event included. */
  complete: boolean;
  checkpoint: { origin: string; size: number; rootHash: string } | null;
  brokenAt: { line: number; index: number | null; reason: string } | null;
}

const MAX_LINE = 4 * 1024 * 1024;

/** The checkpoint of an export: its last non-empty line, signature checked. */
export function exportCheckpoint(lastLine: string, verifier: NoteVerifier): { note: string; checkpoint: Checkpoint } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(lastLine);
  } catch {
    throw new NoteError('the last line of the export is not JSON');
  }
  const note = (parsed as { checkpoint?: unknown })?.checkpoint;
  if (typeof note !== 'string') throw new NoteError('the last line of the export must be {"checkpoint": "<signed note>"}');
  return { note, checkpoint: openCheckpoint(note, verifier) };
}

/**
 * Checks an export line by line against its (already opened) checkpoint, in bounded memory: each
 * event must say what its leaf bytes say, and either carry a valid inclusion proof or continue
 * the tree from leaf 0 so that the whole log rebuilds the checkpoint's root.
 */
export class ExportVerifier {
  private readonly range = CompactRange.empty();
  private events = 0;
  private proved = 0;
  private failure: ExportReport['brokenAt'] = null;

  constructor(private readonly checkpoint: Checkpoint) {}

  line(text: string, lineNo: number): boolean {
    if (this.failure) return false;
    const fail = (reason: string, index: number | null = null) => {
      this.failure = { line: lineNo, index, reason };
      return false;
    };
    if (text.length > MAX_LINE) return fail(`line is longer than ${MAX_LINE} bytes`);
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return fail('not JSON');
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) return fail('not a JSON object');
    const index = row.index;
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return fail('index must be a non-negative integer');
    if (index >= this.checkpoint.size) return fail(`leaf ${index} is outside the checkpoint's ${this.checkpoint.size} leaves`, index);
    if (typeof row.leaf !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(row.leaf)) return fail('leaf must be base64', index);
    const leaf = Buffer.from(row.leaf, 'base64');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(leaf.toString('utf8')) as Record<string, unknown>;
    } catch {
      return fail('the leaf bytes are not JSON', index);
    }
    for (const [key, value] of Object.entries(body)) {
      if (!sameJson(row[key], value)) return fail(`the event's ${key} is not what its leaf says`, index);
    }
    const hash = leafHash(leaf);
    if (row.proof !== undefined) {
      if (
        !Array.isArray(row.proof) ||
        row.proof.length > 64 ||
        !row.proof.every((h) => typeof h === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(h))
      ) {
        return fail('proof must be a list of base64 SHA-256 hashes', index);
      }
      const proof = (row.proof as string[]).map((h) => Buffer.from(h, 'base64'));
      if (!verifyInclusion(index, this.checkpoint.size, hash, proof, this.checkpoint.rootHash)) {
        return fail(`leaf ${index} is not included in the checkpoint at size ${this.checkpoint.size}`, index);
      }
      this.proved += 1;
    } else {
      if (index !== this.range.size)
        return fail(`leaf ${this.range.size} is missing (this line is leaf ${index}) and the line has no inclusion proof`, index);
      this.range.append(hash);
    }
    this.events += 1;
    return true;
  }

  finish(lineNo: number): ExportReport {
    const cp = { origin: this.checkpoint.origin, size: this.checkpoint.size, rootHash: this.checkpoint.rootHash.toString('base64') };
    const complete = this.proved === 0;
    let brokenAt = this.failure;
    if (!brokenAt && this.range.size > 0) {
      if (this.range.size !== this.checkpoint.size) {
        brokenAt = {
          line: lineNo,
          index: this.range.size,
          reason: `the export ends at leaf ${this.range.size} but the checkpoint has ${this.checkpoint.size} leaves, and the lines carry no proofs`,
        };
      } else if (!this.range.root().equals(this.checkpoint.rootHash)) {
        brokenAt = {
          line: lineNo,
          index: null,
          reason: `the ${this.range.size} leaves do not hash to the checkpoint's root: the export was altered`,
        };
      }
    }
    return { ok: brokenAt === null, events: this.events, complete, checkpoint: cp, brokenAt };
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}
