import { Logger } from '@nestjs/common';
import { LogLevel, WebAPIPlatformError, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { SlackConfig } from '#libs/config/index.js';
import type { SlackMessage } from './slack-message.js';

/** Slack answers these with ok:false; sending the same request again cannot help. */
const PERMANENT_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'missing_scope',
  'no_permission',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'user_not_found',
  'users_not_found',
]);

export class SlackApiError extends Error {
  constructor(
    message: string,
    /** Retrying the job cannot help (a bad token, a missing channel…). */
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'SlackApiError';
  }
}

/** Where the API may send a `response_url` reply: Slack's hooks host, or the configured API's origin (tests). */
export function allowedResponseUrl(responseUrl: string, apiUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(responseUrl);
  } catch {
    return false;
  }
  if (url.protocol === 'https:' && url.hostname === 'hooks.slack.com') return true;
  return url.origin === new URL(apiUrl).origin;
}

/**
 * The Slack Web API calls the promoter makes, through @slack/web-api. The client waits out 429s
 * for as long as Retry-After says and retries network errors twice; the notify job's own BullMQ
 * attempts retry the rest, so the two layers together stay short.
 */
export class SlackApi {
  private readonly client: WebClient;
  private readonly logger = new Logger('Slack');

  constructor(
    private readonly config: SlackConfig,
    token: string,
    options: { timeoutMs?: number; retries?: number } = {},
  ) {
    this.client = new WebClient(token, {
      slackApiUrl: config.apiUrl.endsWith('/') ? config.apiUrl : config.apiUrl + '/',
      // Method names are ours; never let one turn into a request to another host.
      allowAbsoluteUrls: false,
      retryConfig: { retries: options.retries ?? 2, factor: 2, minTimeout: 500, maxTimeout: 5_000, randomize: true },
      rejectRateLimitedCalls: false,
      timeout: options.timeoutMs ?? 10_000,
      logger: nestLogger(this.logger),
      logLevel: LogLevel.WARN,
    });
  }

  async postMessage(channel: string, message: SlackMessage, threadTs?: string): Promise<{ channel: string; ts: string }> {
    const result = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({
        channel,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        ...(threadTs ? { thread_ts: threadTs } : {}),
      }),
    );
    if (!result.channel || !result.ts) throw new SlackApiError('chat.postMessage answered without channel and ts', false);
    return { channel: result.channel, ts: result.ts };
  }

  async update(channel: string, ts: string, message: SlackMessage): Promise<void> {
    await this.call('chat.update', () => this.client.chat.update({ channel, ts, text: message.text, blocks: message.blocks }));
  }

  /**
   * The user's e-mail address (needs the users:read.email scope), or null when Slack has none or
   * says it is unconfirmed: only a verified address may stand for a person.
   */
  async userEmail(user: string): Promise<string | null> {
    const result = await this.call('users.info', () => this.client.users.info({ user }));
    if (result.user?.is_email_confirmed === false) return null;
    return result.user?.profile?.email?.toLowerCase() ?? null;
  }

  /** An interaction reply through its response_url (ephemeral: only the clicking user sees it). */
  async respond(responseUrl: string, text: string): Promise<void> {
    if (!allowedResponseUrl(responseUrl, this.config.apiUrl)) {
      throw new SlackApiError(`response_url ${new URL(responseUrl).origin} is neither hooks.slack.com nor the configured Slack API`, true);
    }
    const res = await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
      redirect: 'error',
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new SlackApiError(`response_url answered ${res.status}`, res.status < 500 && res.status !== 429);
  }

  private async call<T>(method: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof WebAPIPlatformError) {
        const code = err.data.error;
        throw new SlackApiError(`${method}: ${code}`, PERMANENT_ERRORS.has(code));
      }
      throw new SlackApiError(`${method}: ${(err as Error).message}`, false);
    }
  }
}

function nestLogger(logger: Logger): SlackLogger {
  let level = LogLevel.WARN;
  const text = (msg: unknown[]) =>
    msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => logger.warn(text(msg)),
    error: (...msg: unknown[]) => logger.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
