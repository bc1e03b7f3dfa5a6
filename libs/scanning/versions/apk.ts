/**
 * Alpine package version order, as apk-tools compares them: dot-separated numbers (after the
 * first, a number with a leading zero compares as a decimal fraction), one optional letter,
 * suffixes (`_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` < `_git` < `_hg` < `_p`,
 * each with an optional number), then the package revision `-rN`.
 */
export function compareApk(a: string, b: string): number {
  const va = parseApk(a);
  const vb = parseApk(b);
  if (!va || !vb) return a < b ? -1 : a > b ? 1 : 0;

  const n = Math.max(va.numbers.length, vb.numbers.length);
  for (let i = 0; i < n; i++) {
    const x = va.numbers[i];
    const y = vb.numbers[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = i > 0 && (x.startsWith('0') || y.startsWith('0')) ? compareFraction(x, y) : compareDigits(x, y);
    if (c !== 0) return c;
  }
  if (va.letter !== vb.letter) {
    if (va.letter === '') return -1;
    if (vb.letter === '') return 1;
    return va.letter < vb.letter ? -1 : 1;
  }
  const s = Math.max(va.suffixes.length, vb.suffixes.length);
  for (let i = 0; i < s; i++) {
    const x = va.suffixes[i];
    const y = vb.suffixes[i];
    // A missing suffix sits between the pre-release suffixes and the post-release ones.
    const rx = x ? SUFFIX_RANK[x.name] : 0;
    const ry = y ? SUFFIX_RANK[y.name] : 0;
    if (rx !== ry) return rx < ry ? -1 : 1;
    const c = compareDigits(x?.number ?? '0', y?.number ?? '0');
    if (c !== 0) return c;
  }
  return compareDigits(va.revision, vb.revision);
}

const SUFFIX_RANK: Record<string, number> = { alpha: -4, beta: -3, pre: -2, rc: -1, cvs: 1, svn: 2, git: 3, hg: 4, p: 5 };

export interface ApkVersion {
  numbers: string[];
  letter: string;
  suffixes: { name: string; number: string }[];
  revision: string;
}

const APK_VERSION = /^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:~[0-9a-f]+)?(?:-r(\d+))?$/;

/** Null when the string is not an apk version (callers fall back to plain string order). */
export function parseApk(version: string): ApkVersion | null {
  const m = APK_VERSION.exec(version.trim());
  if (!m) return null;
  const suffixes = [...m[3].matchAll(/_([a-z]+)(\d*)/g)].map((s) => ({ name: s[1], number: s[2] || '0' }));
  return { numbers: m[1].split('.'), letter: m[2], suffixes, revision: m[4] ?? '0' };
}

function compareDigits(x: string, y: string): number {
  const a = x.replace(/^0+/, '');
  const b = y.replace(/^0+/, '');
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareFraction(x: string, y: string): number {
  const a = x.replace(/0+$/, '');
  const b = y.replace(/0+$/, '');
  return a < b ? -1 : a > b ? 1 : 0;
}
