// cosign-compatible signing: wire formats (simple signing, DSSE, in-toto, sigstore bundle), keys,
// signers, and the writer that signs and attests images in a registry. Plain TypeScript: no Nest, no database.
export * from './formats.js';
export * from './keys.js';
export { COSIGN_KEY_LABEL, COSIGN_SCRYPT, SIGSTORE_KEY_LABEL, decryptCosignKey, encryptCosignKey, readPemBlock } from './cosign-key.js';
export { readPrivateKey } from './private-key.js';
export { KeySigner, loadKeySigner, verifyWith, type KeyFileOptions, type Signer } from './signer.js';
export { keyBundle, signEnvelope, statementBytes } from './dsse.js';
export {
  RegistrySigner,
  type AttestationInput,
  type AttestationWritten,
  type ImageToSign,
  type SignatureWritten,
} from './registry-signer.js';
export * from './predicates.js';
export { generateCosignKeyPair } from './keygen.js';
export * from './verify/index.js';
