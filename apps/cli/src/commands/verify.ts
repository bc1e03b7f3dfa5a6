import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { RegistryConfig, SignatureGateConfig, SignatureIdentityConfig } from '#libs/config/index.js';
import { InvalidReferenceError, RegistryClient, isRegistryError, parseReference } from '#libs/registry/index.js';
import {
  loadVerificationPolicy,
  signerLabel,
  TrustConfigError,
  verifyImage,
  type ItemResult,
  type ManifestResult,
  type VerificationReport,
} from '#libs/signing/index.js';
import { CliError, type CommandEnv } from '../context.js';

interface VerifyOptions {
  key: string[];
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  certificateChain?: string;
  rekorKey: string[];
  attestation?: string;
  insecure?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/** `promoctl verify`: checks an image's cosign signatures (or attestations) straight from its registry. */
export function registerVerify(program: Command, env: CommandEnv): void {
  program
    .command('verify')
    .description(
      "verify an image's cosign signatures (or, with --attestation, its attestations) against keys or a keyless identity; exit 0 only when one is valid",
    )
    .argument('<image>', 'image reference: registry/repository:tag or @sha256:…')
    .option('--key <file>', 'trusted public key (PEM); repeatable', collect, [])
    .option('--certificate-identity <subject>', 'keyless: the certificate SAN (URI or email) exactly')
    .option('--certificate-identity-regexp <re>', 'keyless: a regular expression the SAN must match')
    .option('--certificate-oidc-issuer <issuer>', 'keyless: the OIDC issuer exactly')
    .option('--certificate-oidc-issuer-regexp <re>', 'keyless: a regular expression the OIDC issuer must match')
    .option('--certificate-chain <file>', 'keyless: PEM file of the trusted Fulcio root (and intermediate) certificates')
    .option('--rekor-key <file>', "keyless: the Rekor log's public key (PEM); repeatable", collect, [])
    .option('--attestation <predicateType>', 'verify attestations of this predicate type instead of signatures')
    .option('--insecure', 'talk plain http to the registry (always so for loopback registries)')
    .action(async (reference: string, opts: VerifyOptions, cmd: Command) => {
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      const out = (line = '') => env.io.stdout(`${line}\n`);
      const report = await run(reference, opts, env);
      if (json) out(JSON.stringify(report, null, 2));
      else print(report, opts.attestation, out);
      env.done(report.verified ? 0 : 1);
    });
}

async function run(reference: string, opts: VerifyOptions, env: CommandEnv): Promise<VerificationReport> {
  // A bare digest would parse as Docker Hub's `library/sha256` with a tag: name the repository instead.
  if (/^@?sha256:/i.test(reference.trim())) {
    throw new CliError(
      `error: '${reference}' names no repository: give registry/repository@sha256:<hex> (e.g. 127.0.0.1:5000/staging/web@sha256:…)`,
    );
  }
  let ref;
  try {
    ref = parseReference(reference);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new CliError(`error: ${err.message}`);
    throw err;
  }
  const identities = identitiesFrom(opts);
  if (opts.key.length === 0 && identities.length === 0) {
    throw new CliError('error: give --key FILE, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]');
  }
  if (identities.length > 0 && (!opts.certificateChain || opts.rekorKey.length === 0)) {
    throw new CliError('error: keyless verification is offline: give --certificate-chain (Fulcio roots) and --rekor-key');
  }
  const trustedRoot = identities.length > 0 ? { fulcioRoots: opts.certificateChain!, rekorKey: opts.rekorKey } : undefined;
  const config: SignatureGateConfig = opts.attestation
    ? { keys: [], identities: [], trustedRoot, attestations: [{ predicateType: opts.attestation, keys: opts.key, identities }] }
    : { keys: opts.key, identities, trustedRoot, attestations: [] };
  let policy;
  try {
    policy = loadVerificationPolicy(config, process.cwd());
  } catch (err) {
    if (err instanceof TrustConfigError) throw new CliError(`error: ${err.message.replace(/^[^:]+: /, '')}`);
    throw err;
  }

  const client = new RegistryClient([registryFor(ref.registry, opts.insecure === true, env)], {
    env: env.io.env,
    retries: { attempts: 2 },
  });
  const location = { registry: ref.registry, repository: ref.repository };
  try {
    const digest = ref.digest ?? (await client.resolve(ref)).digest;
    return await verifyImage(client, { ...location, digest }, policy, { signatures: !opts.attestation });
  } catch (err) {
    if (isRegistryError(err)) throw new CliError(`error: ${ref.registry}/${ref.repository}: ${err.message}`);
    throw err;
  }
}

function identitiesFrom(opts: VerifyOptions): SignatureIdentityConfig[] {
  const subject = opts.certificateIdentity ?? opts.certificateIdentityRegexp;
  const issuer = opts.certificateOidcIssuer ?? opts.certificateOidcIssuerRegexp;
  if (subject === undefined && issuer === undefined) return [];
  if (opts.certificateIdentity !== undefined && opts.certificateIdentityRegexp !== undefined)
    throw new CliError('error: give --certificate-identity or --certificate-identity-regexp, not both');
  if (opts.certificateOidcIssuer !== undefined && opts.certificateOidcIssuerRegexp !== undefined)
    throw new CliError('error: give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both');
  if (subject === undefined || issuer === undefined)
    throw new CliError('error: keyless verification needs both a certificate identity and an OIDC issuer');
  for (const re of [opts.certificateIdentityRegexp, opts.certificateOidcIssuerRegexp]) {
    if (re === undefined) continue;
    try {
      new RegExp(re, 'u');
    } catch {
      throw new CliError(`error: '${re}' is not a valid regular expression`);
    }
  }
  return [
    {
      ...(opts.certificateIdentity !== undefined
        ? { subject: opts.certificateIdentity }
        : { subjectRegExp: opts.certificateIdentityRegexp! }),
      ...(opts.certificateOidcIssuer !== undefined
        ? { issuer: opts.certificateOidcIssuer }
        : { issuerRegExp: opts.certificateOidcIssuerRegexp! }),
    },
  ];
}

/** Only the image's own registry; docker config.json credentials when the file exists (as docker and cosign do). */
function registryFor(host: string, insecure: boolean, env: CommandEnv): RegistryConfig {
  const apiHost = host === 'docker.io' ? 'registry-1.docker.io' : host;
  const plain = insecure || LOOPBACK.test(host);
  const dockerConfig = join(env.io.env.DOCKER_CONFIG ?? join(env.io.env.HOME ?? homedir(), '.docker'), 'config.json');
  return {
    name: 'image',
    url: `${plain ? 'http' : 'https'}://${apiHost}`,
    host,
    insecure: plain,
    auth: existsSync(dockerConfig) ? { type: 'dockerConfig', path: dockerConfig } : { type: 'none' },
    rateLimit: null,
  };
}

function print(report: VerificationReport, attestation: string | undefined, out: (line?: string) => void): void {
  out(`image ${report.image}`);
  if (attestation) {
    for (const a of report.attestations) section(`attestations of ${a.predicateType}`, a, out);
  } else {
    section('signatures', report.signatures, out);
  }
  if (report.verified) {
    out(`verified by ${report.signers.map(signerLabel).join('; ')}`);
  } else {
    out(attestation ? `NOT VERIFIED: no valid ${attestation} attestation` : 'NOT VERIFIED: no valid signature');
  }
}

function section(title: string, m: ManifestResult, out: (line?: string) => void): void {
  if (m.items.length === 0 && !m.problem) {
    out(`${title}: none (no ${m.tag} in the repository, no sigstore bundle referrer)`);
    return;
  }
  if (m.manifest !== null || m.problem)
    out(`${title}: ${m.tag} (${m.manifest ?? 'unreadable'}), ${m.layers} layer(s), ${m.examined} examined`);
  else out(`${title}: no ${m.tag}; sigstore bundle referrers:`);
  if (m.problem) out(`  rejected: ${m.problem}`);
  for (const item of m.items) out(`  ${line(item)}`);
}

function line(item: ItemResult): string {
  const where = `${item.source === 'referrer' ? 'referrer ' : ''}[${item.index}]${item.digest ? ` ${item.digest.slice(0, 19)}…` : ''}`;
  return item.accepted ? `${where} accepted: ${signerLabel(item.signer!)}` : `${where} rejected (${item.reason}): ${item.detail}`;
}
