import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import { readNotifySecrets, type NotifySecrets } from './notify-config.js';
import { readOidcSecret } from './identity-config.js';
import { parsePipeline, type EnvironmentConfig, type PipelineConfig, type RegistryConfig } from './pipeline-config.js';
import { loadProcessConfig, type ProcessConfig } from './process-config.js';

/** Everything the service is configured with, validated once at boot and injected everywhere. */
export class AppConfig {
  private readonly envs: Map<string, EnvironmentConfig>;

  constructor(
    readonly process: ProcessConfig,
    readonly pipeline: PipelineConfig,
    /** The registry credentials named by the pipeline (`usernameEnv`, `passwordEnv`), read at boot. */
    readonly registryEnv: Readonly<Record<string, string | undefined>> = {},
    /** The signing key's password from `signing.key.passwordEnv`, read at boot (may be empty); null when unset. */
    readonly signingPassword: string | null = null,
    /** The Slack bot token, signing secret and webhook secrets the pipeline names, read at boot. */
    readonly notifySecrets: NotifySecrets = { slack: null, webhooks: [] },
    /** The OIDC client secret from `identity.oidc.clientSecretEnv`, read at boot; null for a public client. */
    readonly oidcClientSecret: string | null = null,
  ) {
    this.envs = new Map(pipeline.environments.map((e) => [e.name, e]));
  }

  environment(name: string): EnvironmentConfig | undefined {
    return this.envs.get(name);
  }

  registry(name: string): RegistryConfig | undefined {
    return this.pipeline.registries.find((r) => r.name === name);
  }
}

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const proc = loadProcessConfig(env);
  let text: string;
  try {
    text = readFileSync(proc.configPath, 'utf8');
  } catch (err) {
    throw new ConfigError(proc.configPath, [
      {
        path: '',
        message: `cannot read the pipeline file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set PROMOTER_CONFIG`,
      },
    ]);
  }
  const pipeline = parsePipeline(text, proc.configPath);
  const wanted = pipeline.registries.flatMap((r, i) =>
    r.auth.type === 'basic' ? [[r.auth.usernameEnv, i] as const, [r.auth.passwordEnv, i] as const] : [],
  );
  const missing = wanted.filter(([n]) => !env[n]);
  if (missing.length > 0) {
    throw new ConfigError(
      proc.configPath,
      missing.map(([n, i]) => ({ path: `registries[${i}].auth`, message: `environment variable ${n} is not set` })),
    );
  }
  // Checked where the key is opened (processes that run the worker): the API alone needs no password.
  const passwordEnv = pipeline.signing?.key.passwordEnv ?? null;
  const signingPassword = passwordEnv === null ? null : (env[passwordEnv] ?? null);
  const notifySecrets = readNotifySecrets(pipeline, env, proc.configPath);
  const oidcClientSecret = readOidcSecret(pipeline.identity, env, proc.configPath);
  return new AppConfig(
    proc,
    pipeline,
    Object.fromEntries(wanted.map(([n]) => [n, env[n]])),
    signingPassword,
    notifySecrets,
    oidcClientSecret,
  );
}
