// The schema's history, oldest first. Listed explicitly (no globbing) so the same list runs from
// source in tests and from dist/ in production.
import { Initial1764000000000 } from './1764000000000-initial.js';
import { VulnDb1795528900000 } from './1795528900000-vulndb.js';
import { SlackMessages1795700000000 } from './1795700000000-slack-messages.js';
import { TokenRevocation1795800000000 } from './1795800000000-token-revocation.js';
import { ScanResults1795900000000 } from './1795900000000-scan-results.js';
import { PromotionFilters1796100000000 } from './1796100000000-promotion-filters.js';
import { Identity1796200000000 } from './1796200000000-identity.js';
import { PromotionProgress1796210000000 } from './1796210000000-promotion-progress.js';
import { AuditLogTree1796300000000 } from './1796300000000-audit-log-tree.js';
import { PromotionLastError1796350000000 } from './1796350000000-promotion-last-error.js';
import { VulnDbSkippedBy1796360000000 } from './1796360000000-vulndb-skipped-by.js';
import { SignIn1796370000000 } from './1796370000000-sign-in.js';

export const MIGRATIONS = [
  Initial1764000000000,
  VulnDb1795528900000,
  SlackMessages1795700000000,
  TokenRevocation1795800000000,
  ScanResults1795900000000,
  PromotionFilters1796100000000,
  Identity1796200000000,
  PromotionProgress1796210000000,
  AuditLogTree1796300000000,
  PromotionLastError1796350000000,
  VulnDbSkippedBy1796360000000,
  SignIn1796370000000,
];
