import { describe, expect, it } from 'vitest';
import { ROLES, isRole } from './roles.js';

describe('isRole', () => {
  it.each(ROLES)('accepts %s', (role) => {
    expect(isRole(role)).toBe(true);
  });

  it.each(['', 'Admin', 'release_manager', 'root', 'admin '])('refuses %j', (s) => {
    expect(isRole(s)).toBe(false);
  });
});
