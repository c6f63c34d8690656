import { z } from 'zod';
import { ShipError } from '../core/index.js';
import { ActorSchema, type Actor } from '../ledger/index.js';
import type { TokenRow } from '../store/index.js';
import { AuthErrorCode } from './errors.js';

export const TOKEN_STATUSES = ['active', 'expired', 'revoked'] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];

/**
 * What may be shown about a token: everything but the token and its hash. The same shape goes
 * over the HTTP API (`GET /v1/tokens`), so the remote client parses it with this schema.
 */
export const TokenInfoSchema = z.strictObject({
  id: z.string(),
  person: z.string(),
  /** The roles the token was minted with. Acting, it holds only those its person still holds. */
  roles: z.array(z.string()),
  description: z.string().nullable(),
  createdAt: z.string(),
  createdBy: ActorSchema,
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: ActorSchema.nullable(),
  lastUsedAt: z.string().nullable(),
  /** As of when the info was read. */
  status: z.enum(TOKEN_STATUSES),
});
export type TokenInfo = z.infer<typeof TokenInfoSchema>;

/** The answer to a mint: the token (shown once, never again) and its info. */
export const MintResultSchema = z.strictObject({
  token: z.string(),
  info: TokenInfoSchema,
});
export type MintResult = z.infer<typeof MintResultSchema>;

/** The answer to a revoke. `alreadyRevoked`: nothing changed, the token was revoked before. */
export const RevokeResultSchema = z.strictObject({
  info: TokenInfoSchema,
  alreadyRevoked: z.boolean(),
});
export type RevokeResult = z.infer<typeof RevokeResultSchema>;

const RolesSchema = z.array(z.string());

/** Status of a token at `now`: revoked wins over expired. */
export function tokenStatus(
  row: Pick<TokenRow, 'revoked_at' | 'expires_at'>,
  now: Date,
): TokenStatus {
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()) return 'expired';
  return 'active';
}

function parseColumn<T>(row: TokenRow, column: string, text: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw ShipError.runtime(
      AuthErrorCode.corruptToken,
      `The stored token ${row.id} has an unreadable ${column} column.`,
      { hint: 'revoke the token (`shipshape users revoke ID`) and mint a new one' },
    );
  }
  return parsed.data;
}

/** The roles a stored token was minted with. */
export function rowRoles(row: TokenRow): string[] {
  return parseColumn(row, 'roles', row.roles, RolesSchema);
}

/** A stored token as shown to people: never the hash. */
export function rowToInfo(row: TokenRow, now: Date): TokenInfo {
  return {
    id: row.id,
    person: row.person,
    roles: rowRoles(row),
    description: row.description,
    createdAt: row.created_at,
    createdBy: parseColumn<Actor>(row, 'created_by', row.created_by, ActorSchema),
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy:
      row.revoked_by === null
        ? null
        : parseColumn<Actor>(row, 'revoked_by', row.revoked_by, ActorSchema),
    lastUsedAt: row.last_used_at,
    status: tokenStatus(row, now),
  };
}
