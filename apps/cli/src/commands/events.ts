import type { Command } from 'commander';
import { contextFor, type CommandEnv } from '../context.js';
import type { AuditEvent, Page } from '../types.js';

/** Pages followed at most: a promotion has tens of events, not thousands. */
const MAX_PAGES = 20;

/** `promoctl events ID`: the audit events of one promotion, oldest first (an auditor's token). */
export function registerEvents(program: Command, env: CommandEnv): void {
  program
    .command('events')
    .description("a promotion's audit events, oldest first (needs an auditor token)")
    .argument('<id>', 'promotion id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, env.io);
      const subject = `promotion:${id}`;
      const events: AuditEvent[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const query: URLSearchParams = new URLSearchParams({ subject, limit: '500', ...(cursor ? { cursor } : {}) });
        const { body } = await ctx.client.get<Page<AuditEvent>>(`/audit/events?${query.toString()}`);
        events.push(...body.items);
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      if (ctx.json) ctx.printJson({ items: events });
      else if (events.length === 0) ctx.out(`no audit events for ${subject}`);
      else for (const e of events) ctx.out(`${e.seq}  ${e.at}  ${e.actor}  ${e.action}${describe(e)}`);
      env.done(0);
    });
}

/** The few fields a person reads an event for; the rest is in --json. */
function describe(e: AuditEvent): string {
  const d = e.data ?? {};
  const parts: string[] = [];
  const add = (label: string, value: unknown) => {
    if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) return;
    parts.push(`${label}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  };
  if (e.action.startsWith('promotion.')) {
    add('from', d.from);
    add('gates', d.gates);
    add('rejectedBy', d.rejectedBy);
    add('reason', d.reason);
    add('error', d.error);
    add('target', d.target);
  } else if (e.action.startsWith('gate.')) {
    add('gate', d.gate);
    add('round', d.round);
    add('summary', d.summary);
  } else if (e.action.startsWith('approval.') || e.action.startsWith('review.')) {
    add('kind', d.kind);
    add('via', d.via);
    add('comment', d.comment);
    add('notes', d.notes);
  }
  return parts.length > 0 ? `  ${parts.join(' ')}` : '';
}
