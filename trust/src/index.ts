export { Redactor, RedactionStream, encodedForms, DEFAULT_MIN_SECRET_LENGTH } from './redact.ts';
export type { Secret, SecretsInput, IgnoredSecret, RedactorOptions } from './redact.ts';
export { redactThroughput } from './bench.ts';
export type { RedactThroughputOptions, RedactThroughputResult } from './bench.ts';
export { JobClaimsSchema, JobVerifier, signJob, newJobClaims, commandHash, DEFAULT_JOB_TTL_MS } from './token.ts';
export type { JobClaims, JobExpectation, JobVerifierOptions, NewJobClaimsInput } from './token.ts';
export { generateSigningKey, importPublicKey, importPrivateKey, exportPublicKey, exportPrivateKey, keyId } from './keys.ts';
export type { SigningKeyPair, PublicKeyInput, PrivateKeyInput } from './keys.ts';
export { chainHash, checkChain, bundleProblemCodes } from './chain.ts';
export type { BundleProblem, BundleProblemCode, ChainCheck, CheckChainOptions } from './chain.ts';
export { BUNDLE_FORMAT, BUNDLE_VERSION, BundleSchema, buildBundle, verifyBundle, bundleHeader } from './bundle.ts';
export type { Bundle, BuildBundleInput, VerifyBundleOptions, BundleVerification, PolicyHashFn } from './bundle.ts';
export { TokenError, tokenErrorCodes, TrustError, trustErrorCodes } from './errors.ts';
export type { TokenErrorCode, TrustErrorCode } from './errors.ts';
export {
  RunnerSigner,
  createRunnerIdentity,
  openSecrets,
  parseRunnerIdentity,
  parseRunnerPublicKeys,
  publicKeysOf,
  sealSecrets,
  signHarnessLog,
  verifyHarnessLog,
  verifyLogSignature,
  verifyReply,
} from './seal.ts';
export type { ReplyStatement, RunnerIdentity, RunnerPublicKeys, SealBinding, SealedSecrets } from './seal.ts';
