import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { AuditEventEntity } from '#libs/db/index.js';
import { AuditService } from './audit.service.js';

/** One log line: the message a person reads and the fields a log search filters on. */
export interface LifecycleLine {
  level: 'log' | 'warn';
  step: string;
  promotionId: string;
  msg: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- audit data is any JSON
type Data = Record<string, any>;

const SUMMARY_CHARS = 300;
const clip = (text: unknown) => {
  const s = String(text ?? '');
  return s.length > SUMMARY_CHARS ? s.slice(0, SUMMARY_CHARS) + '…' : s;
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * The lines a committed audit event of a promotion is logged as (none for events that are not a
 * step a person follows). Built from the audit event alone, which holds no secrets: tokens never
 * enter it, only their ids.
 */
export function lifecycleLines(
  event: Pick<AuditEventEntity, 'action' | 'subject' | 'actor' | 'data'>,
  copyStartedAt?: Date,
  at = new Date(),
): LifecycleLine[] {
  if (!event.subject.startsWith('promotion:')) return [];
  const promotionId = event.subject.slice('promotion:'.length);
  const d = (event.data ?? {}) as Data;
  const line = (step: string, msg: string, level: LifecycleLine['level'] = 'log'): LifecycleLine => ({
    level,
    step,
    promotionId,
    msg: `promotion ${promotionId} ${msg}`,
  });
  const [kind, what] = event.action.split('.', 2) as [string, string];
  // A person's display name when the event records one (data.actor), else the principal id.
  const by = typeof d.actor?.person === 'string' ? d.actor.person : event.actor;
  if (kind === 'gate') {
    return [line(`gate.${what}`, `${d.gate} gate ${what}: ${clip(d.summary)}`)];
  }
  if (kind === 'approval')
    return [
      line(
        `approval.${what}`,
        `${what === 'approve' ? 'approval' : 'rejection'} by ${by} via ${d.via ?? 'api'}${d.comment ? `: ${clip(d.comment)}` : ''}`,
      ),
    ];
  if (kind === 'review') return [line(`review.${what}`, `${d.kind} review (${what}) by ${by} via ${d.via ?? 'api'}`)];
  if (kind !== 'promotion') return [];
  switch (what) {
    case 'requested':
      return [
        line(
          'requested',
          `requested by ${by}: ${d.image} → ${d.target}${Array.isArray(d.gates) && d.gates.length > 0 ? ` (gates: ${d.gates.join(', ')})` : ''}`,
        ),
      ];
    case 'awaiting_approval':
      return [line('awaiting_approval', 'passed its gates; awaiting approval')];
    case 'blocked':
      return [line('blocked', `blocked by the ${(d.gates ?? []).join(', ')} gate(s)`, 'warn')];
    case 'approved':
      return [
        line(
          'approved',
          Array.isArray(d.approvers) && d.approvers.length > 0
            ? `approved by ${d.approvers.join(', ')}`
            : 'approved (no approval required)',
        ),
      ];
    case 'rejected':
      return [line('rejected', `rejected${d.rejectedBy ? ` by ${d.rejectedBy}` : ''}`)];
    case 'promoting':
      return [line('copy.started', `copy started: ${d.digest}`)];
    case 'promoted': {
      const seconds = copyStartedAt ? ` in ${((at.getTime() - copyStartedAt.getTime()) / 1000).toFixed(1)} s` : '';
      const lines = [
        line(
          'copy.finished',
          `copy finished: ${formatBytes(Number(d.bytesCopied ?? 0))} in ${d.blobsCopied ?? 0} blob(s) copied, ${d.blobsMounted ?? 0} mounted, ${d.blobsSkipped ?? 0} already there${seconds}`,
        ),
      ];
      const signing = d.signing as Data | undefined;
      if (signing?.signed) {
        const attestations = Array.isArray(signing.attestations) ? signing.attestations.length : 0;
        lines.push(line('signed', `signed with key ${signing.keyId}: a signature and ${attestations} attestation(s)`));
      }
      lines.push(
        line('promoted', `promoted: ${d.target}${Array.isArray(d.tags) && d.tags.length > 0 ? ` (tags ${d.tags.join(', ')})` : ''}`),
      );
      return lines;
    }
    case 'failed':
      return [line('failed', `failed: ${clip(d.error)}`, 'warn')];
    case 'cancelled':
    case 'expired':
      return [line(what, what)];
    default:
      return [];
  }
}

/** Keeps at most this many copy start times (copies that end in another process are forgotten). */
const TRACKED_COPIES = 1_000;

/** One log line per step of a promotion, written once the change that made the step has committed. */
@Injectable()
export class LifecycleLog implements OnModuleInit {
  private readonly logger = new Logger('Promotion');
  private readonly copies = new Map<string, Date>();

  constructor(private readonly audit: AuditService) {}

  onModuleInit(): void {
    this.audit.onCommit((events) => {
      for (const event of events) this.write(event);
    });
  }

  private write(event: AuditEventEntity): void {
    const id = event.subject.slice('promotion:'.length);
    if (event.action === 'promotion.promoting') {
      if (this.copies.size >= TRACKED_COPIES) this.copies.delete(this.copies.keys().next().value!);
      this.copies.set(id, event.at);
    }
    for (const { level, msg, ...fields } of lifecycleLines(event, this.copies.get(id), event.at)) this.logger[level]({ msg, ...fields });
    if (event.action === 'promotion.promoted' || event.action === 'promotion.failed') this.copies.delete(id);
  }
}
