import { readFile } from 'node:fs/promises';
import type { RegistryConfig } from '#libs/config/index.js';
import { RegistryError } from './registry-error.js';

export interface BasicCredentials {
  username: string;
  password: string;
}

type Env = Record<string, string | undefined>;

/** Credentials named by a registry's `auth`; null for anonymous access. Read on first use. */
export async function loadCredentials(registry: RegistryConfig, env: Env): Promise<BasicCredentials | null> {
  const auth = registry.auth;
  switch (auth.type) {
    case 'none':
      return null;
    case 'basic': {
      const username = env[auth.usernameEnv];
      const password = env[auth.passwordEnv];
      if (!username || password === undefined) {
        throw new RegistryError(
          'unauthorized',
          `registry '${registry.name}': environment variables ${auth.usernameEnv} and ${auth.passwordEnv} must be set`,
        );
      }
      return { username, password };
    }
    case 'dockerConfig':
      return fromDockerConfig(registry, auth.path);
  }
}

async function fromDockerConfig(registry: RegistryConfig, path: string): Promise<BasicCredentials | null> {
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new RegistryError('unauthorized', `registry '${registry.name}': cannot read docker config ${path}: ${(err as Error).message}`);
  }
  // Keys are written as `host`, `https://host`, or `https://host/v1/`: compare hosts only.
  const entry = Object.entries(doc.auths ?? {}).find(([key]) => authKeyHost(key) === registry.host.toLowerCase())?.[1];
  if (!entry) return null;
  if (entry.auth) {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) throw new RegistryError('unauthorized', `registry '${registry.name}': malformed auth entry in ${path}`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return null;
}

function authKeyHost(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]!
    .toLowerCase();
}

export function basicHeader(c: BasicCredentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate`, e.g. `Bearer realm="https://auth",service="reg",scope="repository:a:pull"`. */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2]!;
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null && p[0].length > 0) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}
