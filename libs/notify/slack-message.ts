import type { PromotionView } from '#libs/workflow/index.js';

// Block Kit messages for a promotion. The approval message is re-rendered from the promotion's
// current state on every change, so the channel always shows where it stands.

export const APPROVE_ACTION = 'promotion.approve';
export const REJECT_ACTION = 'promotion.reject';

/** What a button carries: the promotion and what it was shown with, so a click on an old message is refused. */
export interface ButtonValue {
  promotionId: string;
  digest: string;
  evidenceDigest: string | null;
}

export interface SlackMessage {
  /** Fallback text for notifications and clients without blocks. */
  text: string;
  blocks: Block[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Block Kit JSON
type Block = { type: string } & Record<string, any>;

const STATUS_WORDS: Record<string, string> = {
  pending: ':hourglass: pending',
  evaluating: ':hourglass_flowing_sand: evaluating gates',
  awaiting_approval: ':raising_hand: awaiting approval',
  approved: ':white_check_mark: approved, copying',
  promoting: ':arrows_counterclockwise: promoting',
  promoted: ':rocket: promoted',
  rejected: ':no_entry: rejected',
  blocked: ':octagonal_sign: blocked by a gate',
  failed: ':x: failed',
  cancelled: ':heavy_multiplication_x: cancelled',
  expired: ':alarm_clock: expired',
};

const GATE_ICONS: Record<string, string> = {
  passed: ':white_check_mark:',
  failed: ':x:',
  error: ':warning:',
  waived: ':large_yellow_circle:',
  pending: ':hourglass:',
};

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** Slack mrkdwn treats &, < and > as markup; user-supplied text must not be able to add links or mentions. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

export function encodeButtonValue(value: ButtonValue): string {
  return JSON.stringify({ p: value.promotionId, d: value.digest, e: value.evidenceDigest });
}

export function decodeButtonValue(raw: string): ButtonValue | null {
  try {
    const v = JSON.parse(raw) as { p?: unknown; d?: unknown; e?: unknown };
    if (typeof v.p !== 'string' || typeof v.d !== 'string' || (v.e !== null && typeof v.e !== 'string')) return null;
    return { promotionId: v.p, digest: v.d, evidenceDigest: v.e };
  } catch {
    return null;
  }
}

function imageLine(view: PromotionView): string {
  return `\`${escapeMrkdwn(view.repository)}@sha256:${shortDigest(view.digest)}\``;
}

function approvalsLine(view: PromotionView): string {
  const a = view.approval;
  const given = view.approvals.filter((x) => x.counts && x.decision === 'approve').map((x) => escapeMrkdwn(x.approver.name));
  const parts = [`${a.approvers.length} of ${a.required}${given.length > 0 ? ` (${given.join(', ')})` : ''}`];
  if (view.status === 'awaiting_approval') {
    if (a.needed > 0) parts.push(`${a.needed} more needed from: ${a.roles.join(', ')}`);
    if (a.missingReviews.length > 0) parts.push(`reviews missing: ${a.missingReviews.join(', ')}`);
  }
  const rejections = view.approvals.filter((x) => x.counts && x.decision === 'reject').map((x) => escapeMrkdwn(x.approver.name));
  if (rejections.length > 0) parts.push(`rejected by ${rejections.join(', ')}`);
  return parts.join(' · ');
}

function gatesLines(view: PromotionView): string {
  if (view.gates.length === 0) return '_no gates_';
  return view.gates
    .map((g) => `${GATE_ICONS[g.status] ?? ''} *${g.gate}*: ${g.status}${g.summary ? ` — ${escapeMrkdwn(clip(g.summary, 200))}` : ''}`)
    .join('\n');
}

/** The approval message: details, gate results, approvals, and the buttons while a decision is possible. */
export function approvalMessage(view: PromotionView): SlackMessage {
  const status = STATUS_WORDS[view.status] ?? view.status;
  const text = `Promotion of ${view.repository}@${shortDigest(view.digest)} ${view.source} → ${view.target}: ${view.status.replace('_', ' ')}`;
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`Promotion to ${view.target}: ${view.status.replace('_', ' ')}`, 150) } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Image*\n${imageLine(view)}` },
        { type: 'mrkdwn', text: `*From → to*\n${view.source} → ${view.target}` },
        { type: 'mrkdwn', text: `*Requested by*\n${escapeMrkdwn(view.requestedBy.name)}` },
        { type: 'mrkdwn', text: `*Status*\n${status}` },
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: `*Reason*\n${escapeMrkdwn(clip(view.reason || '—', 1500))}` } },
    { type: 'section', text: { type: 'mrkdwn', text: `*Gates*\n${clip(gatesLines(view), 2800)}` } },
    { type: 'section', text: { type: 'mrkdwn', text: `*Approvals*\n${approvalsLine(view)}` } },
  ];
  if (view.status === 'awaiting_approval') {
    const value = encodeButtonValue({ promotionId: view.id, digest: view.digest, evidenceDigest: view.evidenceDigest });
    blocks.push({
      type: 'actions',
      block_id: 'decision',
      elements: [
        { type: 'button', action_id: APPROVE_ACTION, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value },
        {
          type: 'button',
          action_id: REJECT_ACTION,
          style: 'danger',
          text: { type: 'plain_text', text: 'Reject' },
          value,
          confirm: {
            title: { type: 'plain_text', text: 'Reject this promotion?' },
            text: { type: 'plain_text', text: 'A rejection ends the promotion.' },
            confirm: { type: 'plain_text', text: 'Reject' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `promotion \`${view.id}\` · round ${view.round} · updated ${view.updatedAt}` }],
  });
  return { text, blocks };
}

/** A one-off notice: a gate blocked the promotion, it was promoted, or the copy failed. */
export function eventMessage(view: PromotionView, event: 'blocked' | 'promoted' | 'failed'): SlackMessage {
  let line: string;
  if (event === 'blocked') {
    const failing = view.gates.filter((g) => g.status === 'failed' || g.status === 'error');
    line =
      `:octagonal_sign: ${imageLine(view)} was blocked on its way to *${view.target}*:\n` +
      failing.map((g) => `${GATE_ICONS[g.status]} *${g.gate}*: ${escapeMrkdwn(clip(g.summary, 300))}`).join('\n');
  } else if (event === 'promoted') {
    line = `:rocket: ${imageLine(view)} was promoted ${view.source} → *${view.target}* (\`${escapeMrkdwn(view.targetRepository)}${view.targetTag ? `:${escapeMrkdwn(view.targetTag)}` : ''}\`).`;
  } else {
    const error = view.lastError;
    const why = error
      ? `\n*${escapeMrkdwn(error.step)}* (attempt ${error.attempt}, ${error.at}): ${escapeMrkdwn(clip(error.message, 500))}`
      : '';
    line = `:x: Promoting ${imageLine(view)} to *${view.target}* failed; \`promoctl retry ${view.id}\` tries again once the cause is fixed.${why}`;
  }
  const text = `${view.repository}@${shortDigest(view.digest)} → ${view.target}: ${event}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(line, 2900) } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `promotion \`${view.id}\` · requested by ${escapeMrkdwn(view.requestedBy.name)}` }],
      },
    ],
  };
}
