import { describe, expect, it } from 'vitest';
import { compareApk, compareVersions, compareDpkg, parseDpkg, schemeOf } from './index.js';

type Row = [string, '<' | '=' | '>', string];

function check(compare: (a: string, b: string) => number, rows: Row[]): void {
  for (const [a, op, b] of rows) {
    const expected = op === '<' ? -1 : op === '>' ? 1 : 0;
    expect(Math.sign(compare(a, b)) || 0, `${a} ${op} ${b}`).toBe(expected);
    expect(Math.sign(compare(b, a)) || 0, `${b} reversed ${a}`).toBe(-expected || 0);
  }
}

describe('dpkg version order', () => {
  it('follows the tilde examples of Debian Policy §5.6.12: ~~ < ~~a < ~ < (empty) < a', () => {
    const sorted = ['~~', '~~a', '~', '', 'a'];
    for (let i = 0; i < sorted.length - 1; i++) {
      expect(compareDpkg(`1.0${sorted[i]}`, `1.0${sorted[i + 1]}`), `1.0${sorted[i]} < 1.0${sorted[i + 1]}`).toBeLessThan(0);
    }
  });

  it.each<Row>([
    ['1.0~rc1', '<', '1.0'],
    ['1.0~rc1-1', '<', '1.0-1'],
    ['1:1.0', '>', '2.0'],
    ['0:1.0', '=', '1.0'],
    ['1.0', '=', '1.0-0'],
    ['1.0-1', '<', '1.0-2'],
    ['1.0-1', '<', '1.0.1-1'],
    ['1.0a', '>', '1.0'],
    ['1.0a', '<', '1.0+'],
    ['1.0+dfsg', '>', '1.0'],
    ['1.0.10', '>', '1.0.9'],
    ['1.00', '=', '1.0'],
    ['3.0.11-1~deb12u2', '<', '3.0.11-1'],
    ['3.0.11-1~deb12u2', '>', '3.0.11-1~deb12u1'],
    ['3.0.11-1~deb12u2', '<', '3.0.13-1~deb12u1'],
    ['2.36.1-8+deb11u1', '>', '2.36.1-8'],
    ['7.88.1-10+deb12u5', '<', '7.88.1-10+deb12u12'],
    ['1:2.39.2-1.1', '>', '2.40-1'],
    ['1.2.3-1ubuntu1', '>', '1.2.3-1'],
    ['1.2.3-1ubuntu1', '<', '1.2.3-1ubuntu1.1'],
    ['a', '>', '1'],
  ])('%s %s %s', (a, op, b) => check(compareDpkg, [[a, op, b]]));

  it('splits epoch, upstream and revision at the first colon and last hyphen', () => {
    expect(parseDpkg('2:1.2-3-4')).toEqual({ epoch: 2, upstream: '1.2-3', revision: '4' });
    expect(parseDpkg('1.2')).toEqual({ epoch: 0, upstream: '1.2', revision: '' });
  });
});

describe('apk version order', () => {
  it.each<Row>([
    ['1.0', '<', '1.1'],
    ['1.2', '<', '1.10'],
    ['1.2', '<', '1.2.1'],
    ['1.2a', '>', '1.2'],
    ['1.2a', '<', '1.2b'],
    ['1.2a', '<', '1.2.1'],
    ['1.0_alpha', '<', '1.0_beta'],
    ['1.0_beta', '<', '1.0_pre'],
    ['1.0_pre', '<', '1.0_rc'],
    ['1.0_rc1', '<', '1.0'],
    ['1.0_rc1', '<', '1.0_rc2'],
    ['1.0', '<', '1.0_cvs'],
    ['1.0_cvs', '<', '1.0_svn'],
    ['1.0_svn', '<', '1.0_git'],
    ['1.0_git', '<', '1.0_hg'],
    ['1.0_hg', '<', '1.0_p1'],
    ['1.0_p1', '<', '1.0_p2'],
    ['1.0_p1', '>', '1.0-r5'],
    ['1.0-r0', '=', '1.0'],
    ['1.0-r1', '<', '1.0-r2'],
    ['1.0-r9', '<', '1.0-r10'],
    ['3.1.4-r1', '<', '3.1.4-r5'],
    ['3.1.4-r5', '<', '3.1.5-r0'],
    ['1.01', '<', '1.1'],
    ['1.001', '<', '1.01'],
    ['1.010', '=', '1.01'],
    ['2.0_rc1', '>', '1.9_p3'],
    ['1.2_alpha1_p1', '>', '1.2_alpha1'],
    ['1.2_alpha1_p1', '<', '1.2_alpha2'],
  ])('%s %s %s', (a, op, b) => check(compareApk, [[a, op, b]]));
});

describe('semver (npm) and PEP 440 (PyPI) order', () => {
  it.each<Row>([
    ['1.0.0-alpha', '<', '1.0.0-alpha.1'],
    ['1.0.0-alpha.1', '<', '1.0.0-alpha.beta'],
    ['1.0.0-alpha.beta', '<', '1.0.0-beta'],
    ['1.0.0-beta', '<', '1.0.0-beta.2'],
    ['1.0.0-beta.2', '<', '1.0.0-beta.11'],
    ['1.0.0-beta.11', '<', '1.0.0-rc.1'],
    ['1.0.0-rc.1', '<', '1.0.0'],
    ['1.0.0+build.1', '=', '1.0.0'],
    ['4.17.20', '<', '4.17.21'],
    ['v2.0.0', '=', '2.0.0'],
  ])('semver %s %s %s', (a, op, b) => check((x, y) => compareVersions('semver', x, y), [[a, op, b]]));

  it.each<Row>([
    ['1.0.dev456', '<', '1.0a1'],
    ['1.0a1', '<', '1.0a2.dev456'],
    ['1.0a2.dev456', '<', '1.0a12'],
    ['1.0a12', '<', '1.0b1.dev456'],
    ['1.0b2', '<', '1.0b2.post345.dev456'],
    ['1.0b2.post345', '<', '1.0rc1.dev456'],
    ['1.0rc1', '<', '1.0'],
    ['1.0', '<', '1.0+abc.5'],
    ['1.0+abc.5', '<', '1.0.post456.dev34'],
    ['1.0.post456', '<', '1.1.dev1'],
    ['1!0.5', '>', '2.0'],
    ['2.31.0', '<', '2.32.0'],
    ['1.0', '=', '1.0.0'],
  ])('PEP 440 %s %s %s', (a, op, b) => check((x, y) => compareVersions('pep440', x, y), [[a, op, b]]));
});

describe('schemes per OSV ecosystem', () => {
  it.each([
    ['Debian:12', 'dpkg'],
    ['Ubuntu:22.04:LTS', 'dpkg'],
    ['Alpine:v3.19', 'apk'],
    ['npm', 'semver'],
    ['PyPI', 'pep440'],
    ['Maven', null],
  ])('%s → %s', (ecosystem, scheme) => expect(schemeOf(ecosystem)).toBe(scheme));
});
