import { ApiTokenEntity } from './api-token.entity.js';
import { ApprovalEntity } from './approval.entity.js';
import { AuditEventEntity } from './audit-event.entity.js';
import { GateResultEntity } from './gate-result.entity.js';
import { PromotionEntity } from './promotion.entity.js';
import { ReviewEntity } from './review.entity.js';
import { SessionEntity } from './session.entity.js';

export { ApiTokenEntity, ApprovalEntity, AuditEventEntity, GateResultEntity, PromotionEntity, ReviewEntity, SessionEntity };
export type { LastError } from './promotion.entity.js';
export const ENTITIES = [ApiTokenEntity, ApprovalEntity, AuditEventEntity, GateResultEntity, PromotionEntity, ReviewEntity, SessionEntity];
