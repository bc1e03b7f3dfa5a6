import { describe, expect, it } from 'vitest';
import { resolveUser, userNeedsLookup } from './user.js';

const passwd = Buffer.from(
  'root:x:0:0:root:/root:/bin/sh\n# a comment\ntoor:x:00:0::/root:/bin/sh\napp:x:1000:1001::/app:/sbin/nologin\napp:x:2000:2000::/dup:/bin/sh\n',
);
const group = Buffer.from('root:x:0:\napp:x:1001:\nstaff:x:50:\n');
const files = { passwd, group };

describe('resolving the image User as the runtime does', () => {
  it.each([
    ['', 0, 0],
    ['0', 0, 0],
    ['00', 0, 0],
    ['+0', 0, 0],
    ['-0', 0, 0],
    ['root', 0, 0],
    ['toor', 0, 0],
    ['1000', 1000, 0],
    ['+1000:+50', 1000, 50],
    ['app', 1000, 1001],
    ['app:staff', 1000, 50],
    ['1000:staff', 1000, 50],
    [':staff', 0, 50],
  ])('%j → uid %d gid %d', (user, uid, gid) => {
    expect(resolveUser(user, files)).toEqual({ uid, gid, problem: '' });
  });

  it.each([
    ['ghost', 'user "ghost" is not in the image\'s /etc/passwd'],
    ['app:ghosts', 'group "ghosts" is not in the image\'s /etc/group'],
    ['-1', 'uid -1 is out of range'],
    ['4294967296', 'uid 4294967296 is out of range'],
    ['1000:-5', 'gid -5 is out of range'],
  ])('%j cannot be resolved: %s', (user, problem) => {
    expect(resolveUser(user, files)).toEqual({ uid: null, gid: null, problem });
  });

  it('a name without a readable /etc/passwd is unresolved, saying why', () => {
    expect(resolveUser('app', { passwd: null, group: null }).problem).toBe(
      'user "app" is a name, and the image has no /etc/passwd to look it up in',
    );
    expect(resolveUser('app', { passwd: 'a symlink that does not end', group: null }).problem).toBe(
      'user "app" is a name, and /etc/passwd cannot be read: a symlink that does not end',
    );
    expect(resolveUser('app', null).problem).toContain('was not read');
    expect(resolveUser('1000', null)).toEqual({ uid: 1000, gid: 0, problem: '' });
  });

  it('looks names up only when a part is a name', () => {
    expect(['', '0', '+0', '1000:50', ':7'].map(userNeedsLookup)).toEqual([false, false, false, false, false]);
    expect(['app', 'app:0', '0:staff', 'root'].map(userNeedsLookup)).toEqual([true, true, true, true]);
  });
});
