/** An import that cannot go ahead; nothing was changed. */
export class VulnDbImportError extends Error {
  override readonly name = 'VulnDbImportError';
}
