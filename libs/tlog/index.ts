// The transparency-log formats: RFC 9162 Merkle tree hashes and proofs, C2SP signed notes and
// tlog-checkpoints. Plain TypeScript, no Nest and no database, so the CLI verifies offline with it.
export * from './merkle.js';
export * from './note.js';
export * from './export.js';
