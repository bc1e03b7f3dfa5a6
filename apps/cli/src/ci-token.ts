import { CliError } from './context.js';

/** The audience promoctl asks GitHub for, unless --audience names another (it must match identity.ci's). */
export const DEFAULT_AUDIENCE = 'image-promoter';
/** The variable the documented .gitlab-ci.yml declares under `id_tokens:`. */
export const GITLAB_TOKEN_VARIABLE = 'PROMOTER_ID_TOKEN';

/**
 * The CI system's OIDC token, to send as the bearer instead of a stored secret:
 * `github` asks the Actions runtime for one (the job needs `permissions: id-token: write`),
 * `gitlab` reads the ID token GitLab put in PROMOTER_ID_TOKEN, `env:VAR` reads VAR.
 */
export async function ciToken(source: string, env: Record<string, string | undefined>, audience = DEFAULT_AUDIENCE): Promise<string> {
  if (source === 'github') return githubToken(env, audience);
  const variable = source === 'gitlab' ? GITLAB_TOKEN_VARIABLE : /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(source)?.[1];
  if (!variable) throw new CliError(`error: --oidc must be github, gitlab or env:VARIABLE, not '${source}'`);
  const token = env[variable]?.trim();
  if (!token) {
    const hint =
      source === 'gitlab' ? ` (declare it in .gitlab-ci.yml: id_tokens: { ${GITLAB_TOKEN_VARIABLE}: { aud: ${audience} } })` : '';
    throw new CliError(`error: --oidc ${source}: ${variable} is not set${hint}`);
  }
  return token;
}

async function githubToken(env: Record<string, string | undefined>, audience: string): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer) {
    throw new CliError('error: --oidc github: ACTIONS_ID_TOKEN_REQUEST_URL is not set; give the job `permissions: id-token: write`');
  }
  const target = new URL(url);
  target.searchParams.set('audience', audience);
  let res: Response;
  try {
    res = await fetch(target, {
      headers: { authorization: `bearer ${bearer}`, accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new CliError(`error: --oidc github: the Actions token service is unreachable: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new CliError(`error: --oidc github: the Actions token service answered ${res.status}`);
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (typeof value !== 'string' || value.length === 0) throw new CliError('error: --oidc github: the Actions token service gave no token');
  return value;
}
