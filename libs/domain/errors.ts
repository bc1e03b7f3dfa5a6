export class DomainError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export type PromotionErrorCode =
  | 'invalid_transition' // state does not allow this (HTTP 409)
  | 'self_approval' // requester approving/reviewing own promotion (403)
  | 'role_not_allowed' // approver lacks an allowed role for this environment (403)
  | 'duplicate_decision' // this principal already approved/reviewed on the current evidence (409)
  | 'review_not_required' // review kind not demanded by the environment (422)
  | 'not_awaiting_approval' // approval given while status != awaiting_approval (409)
  | 'evidence_changed'; // the decision names gate evidence that is no longer the promotion's (409)

export class PromotionError extends DomainError<PromotionErrorCode> {}
