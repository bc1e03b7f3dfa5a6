import type { Readable } from 'node:stream';
import { RegistryError } from './registry-error.js';

/** What the HTTP layer hands back: status, lower-cased headers, and a body read at most once. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable | null;
}

/** Aborts a request after `ms` without progress: uploads and downloads may be long but never idle. */
export class IdleTimer {
  private timer: NodeJS.Timeout | null = null;
  fired = false;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.touch();
  }

  touch(): void {
    if (this.timer) this.timer.refresh();
    else if (!this.fired) {
      this.timer = setTimeout(() => {
        this.fired = true;
        this.timer = null;
        this.onIdle();
      }, this.ms);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** A registry answer whose body is read at most once; reading or discarding it ends its timer. */
export class RegistryResponse {
  private consumed = false;
  private finished = false;

  constructor(
    private readonly raw: RawResponse,
    private readonly timer: IdleTimer,
    private readonly controller: AbortController,
    private readonly describe: () => string,
    /** The origin that answered when a redirect led away from the registry; null for the registry itself. */
    readonly foreign: string | null = null,
    /** The caller's signal: when it ends a read, the caller hears its reason, not a connection failure. */
    private readonly outer?: AbortSignal,
  ) {
    if (raw.body === null) timer.stop();
    // Errors surface to whoever reads the body; one destroyed unread must not become uncaught.
    else raw.body.on('error', () => undefined);
  }

  get status(): number {
    return this.raw.status;
  }

  header(name: string): string | null {
    const value = this.raw.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  async *body(): AsyncGenerator<Uint8Array> {
    if (this.consumed) throw new Error('response body already read');
    this.consumed = true;
    const stream = this.raw.body;
    if (!stream) return;
    try {
      for await (const chunk of stream) {
        this.timer.touch();
        yield chunk as Uint8Array;
      }
      this.finished = true;
    } catch (err) {
      if (this.outer?.aborted) throw this.outer.reason ?? err;
      throw this.timer.fired
        ? new RegistryError('unavailable', `${this.describe()}: timed out reading the response`, { cause: err })
        : new RegistryError('unavailable', `${this.describe()}: connection failed while reading: ${causeText(err)}`, { cause: err });
    } finally {
      this.timer.stop();
    }
  }

  /** The whole body, refused beyond `limit` bytes. */
  async bytes(limit: number): Promise<Buffer> {
    const length = Number(this.header('content-length') ?? NaN);
    if (length > limit) {
      await this.discard();
      throw new RegistryError('protocol', `${this.describe()}: ${length} bytes is more than the ${limit} allowed`);
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of this.body()) {
      total += chunk.length;
      if (total > limit) throw new RegistryError('protocol', `${this.describe()}: more than the ${limit} bytes allowed`);
      parts.push(chunk);
    }
    return Buffer.concat(parts);
  }

  /** Releases the connection: cancels an unread body, aborts one being read elsewhere. */
  async discard(): Promise<void> {
    this.timer.stop();
    if (this.raw.body === null || this.finished) return;
    if (this.consumed) {
      this.controller.abort();
      return;
    }
    this.consumed = true;
    // Unread bodies are drained while short (keeps the connection), destroyed otherwise.
    const length = Number(this.header('content-length') ?? NaN);
    if (length <= 64 * 1024) {
      await drain(this.raw.body).catch(() => undefined);
    } else {
      this.raw.body.destroy();
    }
  }
}

async function drain(body: Readable): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  for await (const _ of body) {
    /* discard */
  }
}

export function causeText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const inner = e?.cause?.code ?? e?.cause?.message;
  return inner ? `${e.message} (${inner})` : String(e?.message ?? err);
}
