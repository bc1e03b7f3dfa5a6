export interface ConfigIssue {
  path: string;
  message: string;
}

/** A configuration problem found at start: names the key and the problem, then the process stops. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${source}: ` + issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
    this.name = 'ConfigError';
  }
}
