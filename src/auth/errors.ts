import { ExitCode, ShipError } from '../core/index.js';

/** Stable codes of the errors the auth module raises (docs/exit-codes.md). */
export const AuthErrorCode = {
  /** No token, or a token that is malformed, unknown, expired, revoked or whose person left the spec (exit 19). */
  unauthenticated: 'SHIP_AUTH_UNAUTHENTICATED',
  /** The identity is known but lacks a role the action needs (exit 19). */
  forbidden: 'SHIP_AUTH_FORBIDDEN',
  /** The person is not in the spec's `people` (exit 2). */
  unknownPerson: 'SHIP_AUTH_UNKNOWN_PERSON',
  /** The person exists but `tokens: true` is not set for them (exit 2). */
  tokensNotAllowed: 'SHIP_AUTH_TOKENS_NOT_ALLOWED',
  /** A token was revoked but its ledger event could not be appended (exit 3). */
  revokeUnrecorded: 'SHIP_AUTH_REVOKE_UNRECORDED',
  /** `--roles` named a role the person does not hold: a token can only narrow (exit 2). */
  roleNotHeld: 'SHIP_AUTH_ROLE_NOT_HELD',
  /** The token would carry no role at all (exit 2). */
  noRoles: 'SHIP_AUTH_NO_ROLES',
  /** An expiry of zero, or longer than the maximum (exit 2). */
  badExpiry: 'SHIP_AUTH_BAD_EXPIRY',
  /** A description that is too long or contains control characters (exit 2). */
  badDescription: 'SHIP_AUTH_BAD_DESCRIPTION',
  /** No token has this id (exit 2; HTTP 404). */
  tokenNotFound: 'SHIP_AUTH_TOKEN_NOT_FOUND',
  /** A stored token row cannot be read (exit 3). */
  corruptToken: 'SHIP_AUTH_CORRUPT_TOKEN',
} as const;
export type AuthErrorCodeValue = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

/** Why a token was rejected. Never shown to the caller; for server logs only. */
export const AUTH_FAILURE_REASONS = [
  'missing',
  'malformed',
  'unknown',
  'hash-mismatch',
  'expired',
  'revoked',
  'person-removed',
  'tokens-not-allowed',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** The `cause` of a SHIP_AUTH_UNAUTHENTICATED error: the reason, for logs. */
export class AuthFailure extends Error {
  override readonly name = 'AuthFailure';
  readonly reason: AuthFailureReason;
  readonly tokenId: string | undefined;

  constructor(reason: AuthFailureReason, tokenId?: string) {
    super(`token ${tokenId ?? '(none)'} rejected: ${reason}`);
    this.reason = reason;
    this.tokenId = tokenId;
  }
}

/**
 * The one error every rejected token gets. The message is the same whatever the reason, so a
 * caller probing with stolen or guessed tokens learns nothing; the reason rides in `cause`
 * (an `AuthFailure`), which `toJSON()` leaves out and a server log may record.
 */
export function unauthenticated(reason: AuthFailureReason, tokenId?: string): ShipError {
  return new ShipError(
    AuthErrorCode.unauthenticated,
    'Authentication failed: the token is missing, invalid, expired or revoked.',
    {
      exitCode: ExitCode.forbidden,
      hint: 'pass a valid token (SHIPSHAPE_TOKEN); an admin can mint one with `shipshape users token PERSON`',
      cause: new AuthFailure(reason, tokenId),
    },
  );
}

/** The reason behind a SHIP_AUTH_UNAUTHENTICATED error, for logs; undefined for other errors. */
export function authFailureReason(error: unknown): AuthFailure | undefined {
  return error instanceof ShipError && error.cause instanceof AuthFailure ? error.cause : undefined;
}
