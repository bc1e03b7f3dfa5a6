import type { NewFindingsJobData } from '#libs/workflow/index.js';
import { escapeMrkdwn, shortDigest, type SlackMessage } from './slack-message.js';

// The notice a vulnerability database import raises for an image already promoted: it lists the
// new blocking findings and says what to do. It carries no link: the reader acts through the
// promoter's API or CLI, and a link in a channel message is one more thing that could be spoofed.

/** Findings listed in the message; the rest are counted. Keeps the section far below Slack's 3,000 characters. */
export const NEW_FINDINGS_SHOWN = 10;

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'unknown'];

type NewFinding = NewFindingsJobData['findings'][number];

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

function rank(severity: string): number {
  const i = SEVERITY_ORDER.indexOf(severity);
  return i === -1 ? SEVERITY_ORDER.length : i;
}

/** Worst first, then by id, so the capped list shows what matters most. */
function ordered(findings: readonly NewFinding[]): NewFinding[] {
  return [...findings].sort(
    (a, b) => rank(a.severity) - rank(b.severity) || a.id.localeCompare(b.id) || a.package.localeCompare(b.package),
  );
}

function findingLine(f: NewFinding): string {
  const fix = f.fixedVersion ? `→ ${escapeMrkdwn(clip(f.fixedVersion, 80))}` : '(no fixed version yet)';
  return `• *${escapeMrkdwn(clip(f.id, 80))}* (${escapeMrkdwn(f.severity)}) \`${escapeMrkdwn(clip(f.package, 100))}\` ${escapeMrkdwn(clip(f.installedVersion, 80))} ${fix}`;
}

/** The repository of `repository@digest`, for the short form `repository@sha256:<12 hex>`. */
function repositoryOf(image: string): string {
  const at = image.lastIndexOf('@');
  return at === -1 ? image : image.slice(0, at);
}

/** The Slack notice for new blocking findings on an image already promoted into `notice.environment`. */
export function newFindingsMessage(notice: NewFindingsJobData): SlackMessage {
  const count = notice.findings.length;
  const noun = count === 1 ? 'finding' : 'findings';
  const shown = ordered(notice.findings).slice(0, NEW_FINDINGS_SHOWN);
  const more = count - shown.length;
  const list = shown.map(findingLine).join('\n') + (more > 0 ? `\n…and ${more} more.` : '');
  const repository = repositoryOf(notice.image);
  return {
    text: `${count} new blocking vulnerability ${noun} in ${repository}@${shortDigest(notice.digest)} (${notice.environment})`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(`New vulnerabilities in ${notice.environment}`, 150) } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Image*\n\`${escapeMrkdwn(repository)}@sha256:${shortDigest(notice.digest)}\`` },
          { type: 'mrkdwn', text: `*Environment*\n${escapeMrkdwn(notice.environment)}` },
          { type: 'mrkdwn', text: `*Blocks at*\n${escapeMrkdwn(notice.failOn)} and above` },
          { type: 'mrkdwn', text: `*Database imported*\n${escapeMrkdwn(notice.dbImportedAt)}` },
        ],
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: clip(`:rotating_light: *${count} new blocking ${noun}* the scan gate would refuse today:\n${list}`, 2900),
        },
      },
      {
        type: 'section',
        text: {
          type: 'plain_text',
          text:
            `The image stays in ${notice.environment}: the promotion is not undone. To clear this, either waive each finding ` +
            `(a security reviewer, POST /api/v1/waivers, with an expiry and a justification) if it does not affect the image, ` +
            `or build an image with the fixed versions and promote it to ${notice.environment}.`,
        },
      },
      {
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: `promotion \`${notice.promotionId}\` · vulnerability database import ${escapeMrkdwn(notice.importId)}` },
        ],
      },
    ],
  };
}
