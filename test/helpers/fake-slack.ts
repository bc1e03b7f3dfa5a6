import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A loopback stand-in for Slack: the Web API methods the promoter calls (chat.postMessage,
// chat.update, users.info), answered in Slack's own format ({ok:true,...} / {ok:false,error}, 429
// with Retry-After), and response_url endpoints. Every call is recorded for the tests to read.

export interface SlackCall {
  method: string;
  /** The form fields, with Slack's JSON-encoded ones (blocks) decoded. */
  args: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  token: string | null;
  /** What the fake answered: 200, or the fault it was told to give. */
  status: number;
  error: string | null;
}

export interface SlackResponseCall {
  path: string;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface SlackFault {
  /** 429 with Retry-After: retryAfter seconds. */
  rateLimited?: { retryAfter: number };
  /** An ok:false answer with this error code. */
  error?: string;
}

export interface FakeSlackUser {
  id: string;
  email?: string;
  /** Slack's is_email_confirmed; default true. */
  emailConfirmed?: boolean;
}

export interface FakeSlack {
  /** The Web API base URL to configure (`slack.apiUrl`). */
  apiUrl: string;
  token: string;
  calls: SlackCall[];
  responses: SlackResponseCall[];
  /** Messages by `channel:ts`, as the last postMessage/update left them. */
  messages: Map<string, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  users: Map<string, FakeSlackUser>;
  /** The next calls of this method answer with these faults, one each, in order. */
  failNext(method: string, ...faults: SlackFault[]): void;
  /** A response_url on this server. */
  responseUrl(): string;
  ok(method: string): SlackCall[];
  close(): Promise<void>;
}

export async function startFakeSlack(options: { token?: string } = {}): Promise<FakeSlack> {
  const token = options.token ?? `xoxb-test-${randomBytes(8).toString('hex')}`;
  const calls: SlackCall[] = [];
  const responses: SlackResponseCall[] = [];
  const messages = new Map<string, Record<string, any>>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  const users = new Map<string, FakeSlackUser>();
  const faults = new Map<string, SlackFault[]>();
  let tsCounter = 0;

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const handleApi = (method: string, req: IncomingMessage, raw: string, res: ServerResponse) => {
    const args: Record<string, any> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('application/json')) Object.assign(args, JSON.parse(raw || '{}'));
    else for (const [k, v] of new URLSearchParams(raw)) args[k] = k === 'blocks' || k === 'attachments' ? JSON.parse(v) : v;
    const auth = req.headers.authorization;
    const given = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : (args.token ?? null);
    const call: SlackCall = { method, args, token: given, status: 200, error: null };
    calls.push(call);
    const fault = faults.get(method)?.shift();
    if (fault?.rateLimited) {
      call.status = 429;
      call.error = 'ratelimited';
      return json(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(fault.rateLimited.retryAfter) });
    }
    const fail = (error: string) => {
      call.error = error;
      json(res, 200, { ok: false, error });
    };
    if (fault?.error) return fail(fault.error);
    if (given !== token) return fail(given ? 'invalid_auth' : 'not_authed');
    switch (method) {
      case 'chat.postMessage': {
        if (!args.channel) return fail('channel_not_found');
        const ts = `${Math.floor(Date.now() / 1000)}.${String(++tsCounter).padStart(6, '0')}`;
        const message = {
          type: 'message',
          user: 'U0PROMOTER',
          bot_id: 'B0PROMOTER',
          text: args.text ?? '',
          blocks: args.blocks ?? [],
          ts,
          thread_ts: args.thread_ts,
        };
        messages.set(`${args.channel}:${ts}`, message);
        return json(res, 200, { ok: true, channel: args.channel, ts, message });
      }
      case 'chat.update': {
        const key = `${args.channel}:${args.ts}`;
        const existing = messages.get(key);
        if (!existing) return fail('message_not_found');
        const message = {
          ...existing,
          text: args.text ?? existing.text,
          blocks: args.blocks ?? [],
          edited: { user: 'U0PROMOTER', ts: args.ts },
        };
        messages.set(key, message);
        return json(res, 200, { ok: true, channel: args.channel, ts: args.ts, text: message.text, message });
      }
      case 'users.info': {
        const user = users.get(args.user);
        if (!user) return fail('user_not_found');
        return json(res, 200, {
          ok: true,
          user: {
            id: user.id,
            name: user.id.toLowerCase(),
            deleted: false,
            is_email_confirmed: user.emailConfirmed ?? true,
            profile: user.email ? { email: user.email } : {},
          },
        });
      }
      default:
        return fail('unknown_method');
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      if (req.method === 'POST' && path.startsWith('/api/')) return handleApi(path.slice('/api/'.length), req, raw, res);
      if (req.method === 'POST' && path.startsWith('/actions/')) {
        responses.push({ path, body: JSON.parse(raw || '{}') });
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('ok');
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api/`,
    token,
    calls,
    responses,
    messages,
    users,
    failNext(method, ...list) {
      faults.set(method, [...(faults.get(method) ?? []), ...list]);
    },
    responseUrl: () => `${base}/actions/T0TEST/${randomBytes(6).toString('hex')}`,
    ok: (method) => calls.filter((c) => c.method === method && c.status === 200 && c.error === null),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
