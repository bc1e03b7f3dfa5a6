import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload } from 'jose';
import { ServiceError, type Role } from '#libs/domain/index.js';
import type { CiRuleConfig } from '#libs/config/index.js';
import { JwksCache, type JwksCacheOptions } from './jwks-cache.js';
import type { Principal } from './principal.js';

/** Asymmetric algorithms only: `none` and HMAC (which a public key could be abused to "sign") are refused. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** A bearer that is a compact JWT (a CI system's OIDC token) rather than one of our tokens. */
export function looksLikeJwt(bearer: string): boolean {
  return bearer.length <= 16_384 && JWT_SHAPE.test(bearer);
}

/** `*` any run of characters but `/`, `**` any run, `?` one character but `/`; anchored. */
export function globMatches(glob: string, value: string): boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(value);
}

function claimText(payload: JWTPayload, name: string): string | null {
  const v = payload[name];
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
}

/** `{claim}` and `{claim|last}` (the last `/`-separated part); null if a claim is missing. */
export function fillTemplate(template: string, payload: JWTPayload): string | null {
  let missing = false;
  const out = template.replace(/\{([A-Za-z_][A-Za-z0-9_.-]*)(\|last)?\}/g, (_, name: string, last?: string) => {
    const v = claimText(payload, name);
    if (v === null || v === '') {
      missing = true;
      return '';
    }
    return last ? v.slice(v.lastIndexOf('/') + 1) : v;
  });
  return missing ? null : out;
}

const refuse = (status: 'unauthorized' | 'forbidden', check: string, message: string) => new ServiceError(status, message, { check });

/**
 * Workload identity for CI: a GitHub Actions or GitLab CI OIDC token, verified against its
 * issuer's published keys, becomes the principal of the first `identity.ci` rule it matches.
 */
export class CiFederation {
  private readonly caches = new Map<string, JwksCache>();

  constructor(
    private readonly rules: readonly CiRuleConfig[],
    private readonly cacheOptions: JwksCacheOptions = {},
  ) {}

  get enabled(): boolean {
    return this.rules.length > 0;
  }

  async authenticate(token: string): Promise<Principal> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw refuse('unauthorized', 'malformed', 'the bearer token is not a well-formed JWT');
    }
    if (typeof header.alg !== 'string' || !ASYMMETRIC_ALGORITHMS.includes(header.alg)) {
      throw refuse('unauthorized', 'algorithm', `algorithm not allowed: ${String(header.alg)} (only asymmetric signatures are accepted)`);
    }
    const issuer = typeof unverified.iss === 'string' ? unverified.iss.replace(/\/$/, '') : null;
    const candidates = this.rules.filter((r) => r.issuer.replace(/\/$/, '') === issuer);
    if (issuer === null || candidates.length === 0) {
      throw refuse('unauthorized', 'issuer', `wrong issuer: ${issuer ?? '(none)'} is not a trusted CI issuer (identity.ci)`);
    }
    const payload = await this.verify(token, issuer, candidates);
    return this.principalFor(payload, candidates);
  }

  private async verify(token: string, issuer: string, candidates: CiRuleConfig[]): Promise<JWTPayload> {
    let cache = this.caches.get(issuer);
    if (!cache) {
      cache = new JwksCache(issuer, this.cacheOptions);
      this.caches.set(issuer, cache);
    }
    const skew = Math.max(...candidates.map((r) => r.clockSkew));
    const maxAge = Math.max(...candidates.map((r) => r.maxTokenAge));
    try {
      return await cache.verify(token, {
        issuer: [issuer, `${issuer}/`],
        audience: [...new Set(candidates.map((r) => r.audience))],
        algorithms: ASYMMETRIC_ALGORITHMS,
        clockTolerance: Math.floor(skew / 1000),
        maxTokenAge: Math.floor(maxAge / 1000),
        requiredClaims: ['iss', 'aud', 'exp', 'iat'],
      });
    } catch (err) {
      throw verificationRefusal(err, issuer);
    }
  }

  private principalFor(payload: JWTPayload, candidates: CiRuleConfig[]): Principal {
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    let why = 'no rule for this audience';
    for (const rule of candidates) {
      if (!audiences.includes(rule.audience)) continue;
      const mismatch = Object.entries(rule.claims).find(([name, glob]) => {
        const v = claimText(payload, name);
        return v === null || !globMatches(glob, v);
      });
      if (mismatch) {
        const [name, glob] = mismatch;
        why = `rule ${rule.name}: claim ${name} is ${JSON.stringify(claimText(payload, name))}, not ${JSON.stringify(glob)}`;
        continue;
      }
      const name = fillTemplate(rule.principal, payload);
      if (name === null || /[\x00-\x1f]/.test(name) || name.length > 256) {
        why = `rule ${rule.name}: the principal template names a claim the token does not carry`;
        continue;
      }
      const apps = rule.apps.map((a) => (a === '*' ? a : fillTemplate(a, payload))).filter((a): a is string => a !== null);
      return {
        id: `oidc:${name}`,
        name,
        roles: [...rule.roles] as Role[],
        kind: 'workload',
        person: name,
        credential: 'oidc',
        limits: { apps, environments: [...rule.environments] },
      };
    }
    throw refuse('forbidden', 'no_rule', `no identity.ci rule matched the token (${why})`);
  }
}

function verificationRefusal(err: unknown, issuer: string): ServiceError {
  if (err instanceof ServiceError) {
    return refuse('unauthorized', 'jwks_unavailable', `the keys of ${issuer} cannot be fetched and none are cached: ${err.message}`);
  }
  if (err instanceof errors.JWTExpired) {
    return err.claim === 'iat'
      ? refuse('unauthorized', 'issued_at', 'the OIDC token was issued too long ago (maxTokenAge)')
      : refuse('unauthorized', 'expired', 'the OIDC token has expired (exp)');
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const checks: Record<string, [string, string]> = {
      nbf: ['not_yet_valid', 'the OIDC token is not yet valid (nbf)'],
      iat: ['issued_at', 'the OIDC token claims to be issued in the future (iat)'],
      aud: ['audience', 'wrong audience: the OIDC token is not meant for this promoter (aud)'],
      iss: ['issuer', 'wrong issuer (iss)'],
      exp: ['expired', 'the OIDC token has no valid expiry (exp)'],
    };
    const [check, message] = checks[err.claim] ?? ['claims', `the OIDC token's ${err.claim} claim is not valid`];
    return refuse('unauthorized', check, message);
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return refuse('unauthorized', 'algorithm', 'algorithm not allowed (only asymmetric signatures are accepted)');
  if (err instanceof errors.JWKSNoMatchingKey)
    return refuse('unauthorized', 'unknown_key', `unknown key: no key of ${issuer} has the token's kid`);
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return refuse('unauthorized', 'signature', 'the OIDC token signature does not verify');
  if (err instanceof errors.JWKSMultipleMatchingKeys)
    return refuse('unauthorized', 'unknown_key', 'the token does not name which key signed it');
  return refuse('unauthorized', 'malformed', 'the OIDC token cannot be verified (malformed)');
}
