// The schema's history, oldest first. Listed explicitly (no globbing) so the same list runs from
// source in tests and from dist/ in production.
import { Initial1764000000000 } from './1764000000000-initial.js';

export const MIGRATIONS = [Initial1764000000000];
