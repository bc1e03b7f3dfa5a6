import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, noteVerifier, openCheckpoint, openNote, parseVkey, signNote } from './note.js';

// The example key and note of golang.org/x/mod/sumdb/note, the reference implementation.
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SEED = Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1);
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = GO_TEXT + '\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

function seedKey(seed: Buffer) {
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

describe('signed notes', () => {
  it('derives the verifier key and signature the Go reference implementation does', () => {
    const key = seedKey(GO_SEED);
    expect(noteVerifier('PeterNeumann', key).vkey).toBe(GO_VKEY);
    expect(signNote(GO_TEXT, 'PeterNeumann', key)).toBe(GO_NOTE);
    expect(openNote(GO_NOTE, [parseVkey(GO_VKEY)])).toEqual({ text: GO_TEXT, verifiedBy: ['PeterNeumann'] });
  });

  it('refuses an altered text, an unknown signer and malformed verifier keys', () => {
    const v = parseVkey(GO_VKEY);
    expect(() => openNote(GO_NOTE.replace('cryptography', 'cryptographY'), [v])).toThrow(/does not verify/);
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(() => openNote(GO_NOTE, [noteVerifier('Someone', other)])).toThrow(/no signature by a known key/);
    expect(() => parseVkey(GO_VKEY.replace('c74f20a3', 'c74f20a4'))).toThrow(/hash does not match/);
    expect(() => parseVkey('name+c74f20a3')).toThrow(/must be/);
    // Base64 keys may contain '+': only the first two separate fields.
    for (let i = 0; i < 20; i++) {
      const v = noteVerifier('example.com/log', generateKeyPairSync('ed25519').publicKey);
      expect(parseVkey(v.vkey).vkey).toBe(v.vkey);
    }
    expect(() => openNote('no signatures\n', [v])).toThrow(/malformed/);
  });

  it('wraps a tlog-checkpoint and opens it only for the right key and origin', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const root = Buffer.alloc(32, 7);
    const note = signNote(formatCheckpoint('example.com/log', 12, root), 'example.com/log', privateKey);
    expect(note.split('\n').slice(0, 3)).toEqual(['example.com/log', '12', root.toString('base64')]);
    const v = noteVerifier('example.com/log', privateKey);
    expect(openCheckpoint(note, parseVkey(v.vkey), 'example.com/log')).toMatchObject({
      origin: 'example.com/log',
      size: 12,
      rootHash: root,
    });
    expect(() => openCheckpoint(note, v, 'other.example/log')).toThrow(/origin/);
  });
});
