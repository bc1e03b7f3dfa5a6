import type { UserSection } from './facts.js';

// The image's `User` as the container runtime resolves it (runc and containerd through
// moby/sys/user): `user[:group]`; a part that parses as a decimal integer (Go's strconv.Atoi: a
// sign and leading zeros allowed, so "00" and "+0" are 0) is an id, anything else a name looked up
// in the image's /etc/passwd or /etc/group, first entry of that name wins. An empty User runs as
// root. A name that is not found stops the container from starting: the rule denies it, saying why.

const MAX_ID = 2 ** 31 - 1;

/** Go's strconv.Atoi on a string of digits with an optional sign; null when it is not one. */
function atoi(text: string): number | null {
  return /^[+-]?\d+$/.test(text) ? Number(text) : null;
}

/** The files the lookup reads, null when absent; a string when present but unreadable (the reason). */
export interface IdFiles {
  passwd: Buffer | string | null;
  group: Buffer | string | null;
}

interface Entry {
  name: string;
  id: number;
  gid: number;
}

/** `name:x:uid:gid:...` lines; an id field that is not a number reads as 0, as moby/sys/user reads it. */
function entries(text: string, idField: number, gidField: number | null): Entry[] {
  const out: Entry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(':');
    const id = (s: string | undefined) => {
      const n = atoi(s ?? '');
      return n === null || !Number.isSafeInteger(n) ? 0 : n;
    };
    out.push({ name: parts[0] ?? '', id: id(parts[idField]), gid: gidField === null ? 0 : id(parts[gidField]) });
  }
  return out;
}

function lookup(file: Buffer | string | null, path: string, name: string, kind: 'user' | 'group'): Entry | string {
  if (file === null) return `${kind} "${name}" is a name, and the image has no ${path} to look it up in`;
  if (typeof file === 'string') return `${kind} "${name}" is a name, and ${path} cannot be read: ${file}`;
  const found = entries(file.toString('utf8'), 2, kind === 'user' ? 3 : null).find((e) => e.name === name);
  return found ?? `${kind} "${name}" is not in the image's ${path}`;
}

function id(value: number, kind: 'uid' | 'gid'): number | string {
  if (value < 0 || value > MAX_ID) return `${kind} ${value} is out of range`;
  // "-0" is 0 too: never let a negative zero through as something other than root.
  return value === 0 ? 0 : value;
}

/** Whether resolving `user` needs the image's /etc/passwd or /etc/group (a part that is a name). */
export function userNeedsLookup(user: string): boolean {
  if (user === '') return false;
  const [u = '', g] = splitSpec(user);
  return (u !== '' && atoi(u) === null) || (g !== undefined && g !== '' && atoi(g) === null);
}

function splitSpec(user: string): [string, string | undefined] {
  const colon = user.indexOf(':');
  return colon < 0 ? [user, undefined] : [user.slice(0, colon), user.slice(colon + 1)];
}

/** The uid and gid the runtime would run `user` as; `files` is null when the image was not read. */
export function resolveUser(user: string, files: IdFiles | null): UserSection {
  const fail = (problem: string): UserSection => ({ uid: null, gid: null, problem });
  if (user === '') return { uid: 0, gid: 0, problem: '' };
  const [userPart, groupPart] = splitSpec(user);
  let uid: number;
  let gid = 0;
  const numericUser = atoi(userPart);
  if (numericUser !== null) {
    const checked = id(numericUser, 'uid');
    if (typeof checked === 'string') return fail(checked);
    uid = checked;
  } else if (userPart === '') {
    uid = 0;
  } else {
    if (!files) return fail(`user "${userPart}" is a name and the image's /etc/passwd was not read`);
    const found = lookup(files.passwd, '/etc/passwd', userPart, 'user');
    if (typeof found === 'string') return fail(found);
    const checked = id(found.id, 'uid');
    if (typeof checked === 'string') return fail(checked);
    uid = checked;
    gid = found.gid;
  }
  if (groupPart !== undefined && groupPart !== '') {
    const numericGroup = atoi(groupPart);
    if (numericGroup !== null) {
      const checked = id(numericGroup, 'gid');
      if (typeof checked === 'string') return fail(checked);
      gid = checked;
    } else {
      if (!files) return fail(`group "${groupPart}" is a name and the image's /etc/group was not read`);
      const found = lookup(files.group, '/etc/group', groupPart, 'group');
      if (typeof found === 'string') return fail(found);
      gid = found.id;
    }
  }
  return { uid, gid, problem: '' };
}
