import { describe, expect, it } from 'vitest';
import { formatReference, parseReference, pinnedImage, splitRepository } from './reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: null, digest: null }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: null }],
    ['org/app', { registry: 'docker.io', repository: 'org/app', tag: null, digest: null }],
    ['index.docker.io/org/app', { registry: 'docker.io', repository: 'org/app', tag: null, digest: null }],
    ['127.0.0.1:5000/dev/app@' + D, { registry: '127.0.0.1:5000', repository: 'dev/app', tag: null, digest: D }],
    ['localhost/app:v1', { registry: 'localhost', repository: 'app', tag: 'v1', digest: null }],
    ['localhost:5000/a/b/c:v1@' + D, { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1', digest: D }],
    ['[::1]:5000/app@' + D, { registry: '[::1]:5000', repository: 'app', tag: null, digest: D }],
    ['Registry.Example.com/app', { registry: 'Registry.Example.com', repository: 'app', tag: null, digest: null }],
    ['ghcr.io/org/my_app__x.y-z:1.0-rc.1', { registry: 'ghcr.io', repository: 'org/my_app__x.y-z', tag: '1.0-rc.1', digest: null }],
  ])('%s', (text, expected) => {
    expect(parseReference(text)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['Org/App', 'lowercase'],
    ['registry.io/App', 'lowercase'],
    ['app@sha256:abc', '64 lowercase hex'],
    ['app@sha256:' + 'A'.repeat(64), '64 lowercase hex'],
    ['app@sha512:' + 'a'.repeat(128), 'only sha256'],
    ['app:-bad', 'not a valid tag'],
    ['registry.io//app', 'empty component'],
    ['registry.io/app/', 'empty component'],
    ['app_/x', 'not a valid path component'],
    ['my app', 'whitespace'],
    ['bad_host.io:99x/app', 'not a valid registry host'],
  ])('refuses %j', (text, reason) => {
    expect(() => parseReference(text)).toThrow(reason);
  });

  it('round-trips through formatReference', () => {
    const text = '127.0.0.1:5000/dev/app:v1@' + D;
    expect(formatReference(parseReference(text))).toBe(text);
  });
});

describe('splitRepository', () => {
  it('splits a stored host/path once, at the first slash', () => {
    expect(splitRepository('127.0.0.1:5000/team/app')).toEqual({ registry: '127.0.0.1:5000', repository: 'team/app' });
    expect(pinnedImage('reg.example/app', 'sha256:x')).toEqual({ registry: 'reg.example', repository: 'app', digest: 'sha256:x' });
  });

  it.each(['app', '/app', 'reg.example/'])('refuses %j', (text) => {
    expect(() => splitRepository(text)).toThrow(TypeError);
  });
});
