/**
 * Who is acting and what they may do: the local operator (the OS user the spec names), API
 * tokens bound to people in the spec, and the permission map. See docs/identity.md.
 */
export { localActor } from './local-actor.js';
export {
  AUTH_FAILURE_REASONS,
  AuthErrorCode,
  AuthFailure,
  authFailureReason,
  unauthenticated,
  type AuthErrorCodeValue,
  type AuthFailureReason,
} from './errors.js';
export {
  ANY_ROLE,
  PERMISSIONS,
  can,
  describeActor,
  requirePermission,
  rolesGranting,
  type Permission,
} from './permissions.js';
export {
  TOKEN_ID_PATTERN,
  TOKEN_PATTERN,
  TOKEN_PREFIX,
  generateToken,
  hashToken,
  parseTokenId,
  tokenMatches,
  type GeneratedToken,
} from './token-format.js';
export {
  MintResultSchema,
  RevokeResultSchema,
  TOKEN_STATUSES,
  TokenInfoSchema,
  type MintResult,
  type RevokeResult,
  type TokenInfo,
  type TokenStatus,
} from './token-info.js';
export {
  DEFAULT_TOKEN_EXPIRY_MS,
  LAST_USED_RESOLUTION_MS,
  MAX_DESCRIPTION_LENGTH,
  MAX_TOKEN_EXPIRY_MS,
  MIN_TOKEN_EXPIRY_MS,
  REVOKE_REPAIR_AFTER_MS,
  MintRequestSchema,
  TOKENS_LOCK,
  TokenService,
  toMintInput,
  tokenSubject,
  type MintInput,
  type MintRequest,
  type TokenManager,
  type TokenServiceOptions,
} from './tokens.js';
