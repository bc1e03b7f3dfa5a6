// Verification of what comes in: cosign signatures and attestations on an image, against trusted
// keys or keyless (Fulcio + Rekor) identities held offline.
export { verifyImage, DEFAULT_LIMITS, type AttachmentReader, type ImageToVerify, type VerifyOptions } from './image-verifier.js';
export {
  loadVerificationPolicy,
  identityMatcher,
  TrustConfigError,
  type VerificationPolicy,
  type TrustedKey,
  type KeylessTrust,
  type AttestationRequirement,
  type IdentityMatcher,
} from './trust.js';
export {
  pemCertificates,
  parseCertificate,
  verifyChain,
  CertificateError,
  OID_ISSUER_V1,
  OID_ISSUER_V2,
  type ParsedCertificate,
} from './certificate.js';
export { parseRekorBundle, verifyRekorBundle, setSignedBytes, type RekorBundle } from './rekor.js';
export {
  signerLabel,
  type VerificationReport,
  type ItemResult,
  type ManifestResult,
  type AttestationResult,
  type VerifiedSigner,
  type RejectReason,
  type VerificationLimits,
} from './report.js';
