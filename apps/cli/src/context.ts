import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '#libs/domain/index.js';
import { ApiClient } from './api-client.js';

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface CommandEnv {
  io: CliIo;
  done(code: number): void;
}

interface GlobalOptions {
  json?: boolean;
  url?: string;
  token?: string;
}

export interface Ctx {
  json: boolean;
  client: ApiClient;
  out(line?: string): void;
  err(line: string): void;
  printJson(body: unknown): void;
}

/** `bearer`: a credential the command found itself (a CI system's OIDC token), used instead of --token. */
export function contextFor(cmd: Command, io: CliIo, bearer?: string): Ctx {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const url = opts.url || io.env.PROMOTER_URL || DEFAULT_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new CliError(`error: invalid promoter URL '${url}' (expected http(s)://host[:port])`);
  }
  const token = bearer || opts.token || io.env.PROMOTER_TOKEN;
  if (!token) {
    throw new CliError('error: no API token: set PROMOTER_TOKEN or pass --token TOKEN');
  }
  return {
    json: opts.json === true,
    client: new ApiClient(url, token),
    out: (line = '') => io.stdout(`${line}\n`),
    err: (line) => io.stderr(`${line}\n`),
    printJson: (body) => io.stdout(`${JSON.stringify(body, null, 2)}\n`),
  };
}

export function durationOption(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  if (ms <= 0) throw new InvalidArgumentError('must be greater than zero');
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  return `${+(ms / 3_600_000).toFixed(1)}h`;
}
