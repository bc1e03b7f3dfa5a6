import { ImageFsError } from './errors.js';

/**
 * The path of a tar entry as components below the image root: `./usr/bin/`, `/usr/bin` and
 * `usr/bin` are the same. A `..` component is refused: real layers never carry one, and an entry
 * that climbs out of the root is an attack, not a file.
 */
export function entryComponents(name: string): string[] {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new ImageFsError('unsafe_path', `layer entry ${JSON.stringify(name)} climbs out of the image root`);
    if (part.includes('\0')) throw new ImageFsError('unsafe_path', `layer entry ${JSON.stringify(name)} has a NUL byte`);
    parts.push(part);
  }
  return parts;
}

/** `/`-joined absolute form used in results: `/usr/bin/dash`; the root is `/`. */
export function toPath(components: readonly string[]): string {
  return '/' + components.join('/');
}

/** Components of a caller's path (`/bin/sh`, `bin/sh`); `..` is resolved lexically, clamped at the root. */
export function queryComponents(path: string): string[] {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}
