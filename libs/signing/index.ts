// cosign-compatible signing: wire formats (simple signing, DSSE, in-toto, sigstore bundle), keys,
// signers, and the writer that signs and attests images in a registry. Plain TypeScript: no Nest, no database.
export * from './formats.js';
export * from './keys.js';
