import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts object keys and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: 2, c: { z: true, y: null } })).toBe('{"a":2,"b":1,"c":{"y":null,"z":true}}');
  });

  it('gives the same text whatever the key insertion order', () => {
    expect(canonicalJson({ x: 1, y: [1, 2], z: { q: 'a', p: 'b' } })).toBe(canonicalJson({ z: { p: 'b', q: 'a' }, y: [1, 2], x: 1 }));
  });

  it('sorts nested objects, including those inside arrays, and keeps array order', () => {
    expect(canonicalJson({ list: [{ b: 1, a: 2 }, 3, [{ d: 0, c: 0 }]] })).toBe('{"list":[{"a":2,"b":1},3,[{"c":0,"d":0}]]}');
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
  });

  it('sorts unicode keys by UTF-16 code units (RFC 8785 example)', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Compared as text because Object.keys would hoist the integer-like key "1".
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    const expected = `{${order.map((k) => `${JSON.stringify(k)}:${JSON.stringify(value[k as keyof typeof value])}`).join(',')}}`;
    expect(canonicalJson(value)).toBe(expected);
  });

  it('orders a surrogate pair before a higher BMP character, unlike code-point order', () => {
    expect(canonicalJson({ '\uff21': 1, '\ud83d\ude00': 2 })).toBe('{"\ud83d\ude00":2,"\uff21":1}');
  });

  it('omits keys whose value is undefined', () => {
    expect(canonicalJson({ a: undefined, b: 1, c: { d: undefined } })).toBe('{"b":1,"c":{}}');
  });

  it('writes undefined array items as null, as JSON does', () => {
    expect(canonicalJson([1, undefined, 2])).toBe('[1,null,2]');
  });

  it('writes dates as ISO strings', () => {
    expect(canonicalJson({ at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)) })).toBe('{"at":"2024-01-02T03:04:05.006Z"}');
  });

  it('writes primitives as JSON does', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(false)).toBe('false');
    expect(canonicalJson('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(1e21)).toBe('1e+21');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
  });

  it.each([NaN, Infinity, -Infinity])('rejects %s with a TypeError', (n) => {
    expect(() => canonicalJson(n)).toThrow(TypeError);
    expect(() => canonicalJson({ a: [n] })).toThrow(TypeError);
  });

  it('rejects bigint with a TypeError', () => {
    expect(() => canonicalJson(1n)).toThrow(TypeError);
    expect(() => canonicalJson({ n: 10n })).toThrow(TypeError);
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['undefined at the top', undefined],
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1])],
  ])('rejects %s with a TypeError', (_label, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('rejects cycles with a TypeError', () => {
    const a: Record<string, unknown> = { x: 1 };
    a['self'] = a;
    expect(() => canonicalJson(a)).toThrow(TypeError);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"k":1},"b":[{"k":1}]}');
  });
});

describe('sha256Hex', () => {
  it('matches known test vectors', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes strings as UTF-8, same as their bytes', () => {
    expect(sha256Hex('h\u00e9llo \ud83d\ude00')).toBe(sha256Hex(new TextEncoder().encode('h\u00e9llo \ud83d\ude00')));
    expect(sha256Hex('\u00e9')).toBe(
      createHash('sha256')
        .update(Buffer.from([0xc3, 0xa9]))
        .digest('hex'),
    );
  });
});
