import { z } from 'zod';
import { ShipError, formatDuration, parseDuration, redact } from '../core/index.js';
import type { Actor, Ledger } from '../ledger/index.js';
import { rolesOf, type Spec } from '../spec/index.js';
import type { Store, TokenRow } from '../store/index.js';
import { AuthErrorCode, unauthenticated } from './errors.js';
import { requirePermission } from './permissions.js';
import { didYouMean } from '../core/index.js';
import { generateToken, parseTokenId, tokenMatches } from './token-format.js';
import {
  rowRoles,
  rowToInfo,
  type MintResult,
  type RevokeResult,
  type TokenInfo,
} from './token-info.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long a token lives unless told otherwise. */
export const DEFAULT_TOKEN_EXPIRY_MS = 90 * DAY_MS;
/** The longest a token may live: a leaked token must die on its own eventually. */
export const MAX_TOKEN_EXPIRY_MS = 365 * DAY_MS;
/** The shortest a token may live. */
export const MIN_TOKEN_EXPIRY_MS = 60 * 1000;
/** `last_used_at` is written at most this often per token, so authenticating rarely writes. */
export const LAST_USED_RESOLUTION_MS = 60 * 1000;
/** A revocation without its event is repaired by a later revoke only once it is this old. */
export const REVOKE_REPAIR_AFTER_MS = 60 * 1000;
/** Longest description, in characters. */
export const MAX_DESCRIPTION_LENGTH = 200;
/** The store lock mint and revoke take, so two revokes of one token record one event. */
export const TOKENS_LOCK = 'shipshape.tokens';

/** What to mint. */
export interface MintInput {
  /** Person id from the spec's `people`; must have `tokens: true`. */
  person: string;
  /** Narrow the token to these of the person's roles. @default all the roles the person holds */
  roles?: readonly string[];
  /** Lifetime in milliseconds. @default 90 days; at most 365 days */
  expiresIn?: number;
  /** What the token is for (`CI deploys of shop`). */
  description?: string;
}

/**
 * The body of `POST /v1/tokens`: like MintInput, with the lifetime as a duration string
 * (`90d`). Parse it, then hand `toMintInput(body)` to `TokenManager.mint`.
 */
export const MintRequestSchema = z.strictObject({
  person: z.string().min(1).max(128),
  roles: z.array(z.string().min(1).max(64)).max(64).optional(),
  expires: z.string().max(32).optional(),
  description: z.string().max(MAX_DESCRIPTION_LENGTH).optional(),
});
export type MintRequest = z.infer<typeof MintRequestSchema>;

/** Converts a parsed mint request to MintInput. @throws ShipError SHIP_BAD_DURATION (exit 2) */
export function toMintInput(request: MintRequest): MintInput {
  return {
    person: request.person,
    ...(request.roles === undefined ? {} : { roles: request.roles }),
    ...(request.expires === undefined ? {} : { expiresIn: parseDuration(request.expires) }),
    ...(request.description === undefined ? {} : { description: request.description }),
  };
}

/**
 * Mints, lists and revokes tokens: implemented locally by TokenService and, in remote mode, by
 * a client of `shipshape serve` (`/v1/tokens`). A remote implementation acts as its bearer
 * token and ignores `actor`: the server decides who is acting.
 */
export interface TokenManager {
  mint(input: MintInput, actor: Actor): Promise<MintResult>;
  list(): Promise<TokenInfo[]>;
  revoke(id: string, actor: Actor): Promise<RevokeResult>;
}

export interface TokenServiceOptions {
  store: Store;
  ledger: Ledger;
  spec: Spec;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

// eslint-disable-next-line no-control-regex -- control characters would forge lines in listings
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * API tokens bound to people in the spec. Only an admin mints or revokes; each mint and revoke
 * is a ledger event (never carrying the token or its hash). A token acts with the roles it was
 * minted with that its person still holds in the spec, so editing the spec narrows live tokens.
 *
 * @example
 * const tokens = new TokenService({ store, ledger, spec });
 * const { token } = await tokens.mint({ person: 'ci', roles: ['deployer'] }, adminActor);
 * const actor = await tokens.authenticate(token); // { kind: 'token', tokenId, person: 'ci', roles: ['deployer'] }
 */
export class TokenService implements TokenManager {
  readonly #store: Store;
  readonly #ledger: Ledger;
  readonly #spec: Spec;
  readonly #now: () => Date;

  constructor(options: TokenServiceOptions) {
    this.#store = options.store;
    this.#ledger = options.ledger;
    this.#spec = options.spec;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Mints a token for `input.person`. The token is returned once and never stored: only its
   * SHA-256 is. The `token-minted` event is appended before the token is stored, so no token
   * can ever work without its evidence.
   *
   * @throws ShipError SHIP_AUTH_FORBIDDEN (exit 19) unless `actor` holds admin;
   *   SHIP_AUTH_UNKNOWN_PERSON, SHIP_AUTH_TOKENS_NOT_ALLOWED, SHIP_AUTH_ROLE_NOT_HELD,
   *   SHIP_AUTH_NO_ROLES, SHIP_AUTH_BAD_EXPIRY, SHIP_AUTH_BAD_DESCRIPTION (exit 2).
   */
  async mint(input: MintInput, actor: Actor): Promise<MintResult> {
    requirePermission(actor, 'tokens.manage');
    this.#checkPerson(input.person);
    const roles = this.#narrowRoles(input.person, input.roles);
    const expiresIn = checkExpiry(input.expiresIn ?? DEFAULT_TOKEN_EXPIRY_MS);
    const description = checkDescription(input.description);

    const now = this.#now();
    const generated = generateToken();
    const row: TokenRow = {
      id: generated.id,
      person: input.person,
      roles: JSON.stringify(roles),
      hash: generated.hash,
      description,
      created_at: now.toISOString(),
      created_by: JSON.stringify(actor),
      expires_at: new Date(now.getTime() + expiresIn).toISOString(),
      revoked_at: null,
      revoked_by: null,
      last_used_at: null,
    };
    await this.#ledger.append({
      kind: 'event',
      subject: tokenSubject(row.person),
      actor,
      body: {
        type: 'token-minted',
        details: {
          tokenId: row.id,
          person: row.person,
          roles,
          expiresAt: row.expires_at,
          ...(description === null ? {} : { description }),
        },
      },
    });
    await this.#store.exclusive(TOKENS_LOCK, (trx) =>
      trx.insertInto('tokens').values(row).execute(),
    );
    return { token: generated.token, info: rowToInfo(row, now) };
  }

  /** Every token ever minted, oldest first, with its status now. Never a token or a hash. */
  async list(): Promise<TokenInfo[]> {
    const rows = await this.#store.db
      .selectFrom('tokens')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const now = this.#now();
    return rows.map((row) => rowToInfo(row, now));
  }

  /** One token's info. @throws ShipError SHIP_AUTH_TOKEN_NOT_FOUND (exit 2) */
  async get(id: string): Promise<TokenInfo> {
    const row = await this.#store.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw tokenNotFound(id);
    return rowToInfo(row, this.#now());
  }

  /**
   * Revokes a token; it stops working at once. Revoking a revoked token changes nothing and
   * says so (`alreadyRevoked`). The revocation is stored first, then the `token-revoked` event
   * appended; if that append fails (SHIP_AUTH_REVOKE_UNRECORDED, exit 3), revoking again a
   * minute later appends the missing event.
   *
   * @throws ShipError SHIP_AUTH_FORBIDDEN (exit 19) unless `actor` holds admin;
   *   SHIP_AUTH_TOKEN_NOT_FOUND (exit 2) for an unknown id.
   */
  async revoke(id: string, actor: Actor): Promise<RevokeResult> {
    requirePermission(actor, 'tokens.manage');
    const now = this.#now();
    const { row, alreadyRevoked } = await this.#store.exclusive(TOKENS_LOCK, async (trx) => {
      const found = await trx
        .selectFrom('tokens')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!found) throw tokenNotFound(id);
      if (found.revoked_at !== null) return { row: found, alreadyRevoked: true };
      const revoked: TokenRow = {
        ...found,
        revoked_at: now.toISOString(),
        revoked_by: JSON.stringify(actor),
      };
      await trx
        .updateTable('tokens')
        .set({ revoked_at: revoked.revoked_at, revoked_by: revoked.revoked_by })
        .where('id', '=', id)
        .execute();
      return { row: revoked, alreadyRevoked: false };
    });
    const info = rowToInfo(row, now);
    if (!alreadyRevoked) {
      await this.#recordRevocation(info).catch((error: unknown) => {
        throw ShipError.runtime(
          AuthErrorCode.revokeUnrecorded,
          `Token ${id} is revoked, but its token-revoked event could not be recorded: ${(error as Error).message}`,
          {
            cause: error,
            hint: `run \`shipshape users revoke ${id}\` again in a minute to record the event`,
          },
        );
      });
    } else if (await this.#revocationUnrecorded(info, now)) {
      await this.#recordRevocation(info);
    }
    return { info, alreadyRevoked };
  }

  /**
   * The identity a bearer token stands for. Its roles are the token's roles that its person
   * still holds in the spec (the spec is the one source of truth), so a token never holds
   * more than its person does now.
   *
   * @throws ShipError SHIP_AUTH_UNAUTHENTICATED (exit 19), with one message for every reason
   *   (malformed, unknown, expired, revoked, person gone); `authFailureReason(error)` tells
   *   which, for logs.
   */
  async authenticate(token: string | undefined): Promise<Actor> {
    if (token === undefined || token === '') throw unauthenticated('missing');
    const id = parseTokenId(token);
    if (id === undefined) throw unauthenticated('malformed');
    const row = await this.#store.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw unauthenticated('unknown', id);
    if (!tokenMatches(token, row.hash)) throw unauthenticated('hash-mismatch', id);
    if (row.revoked_at !== null) throw unauthenticated('revoked', id);
    const now = this.#now();
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()) {
      throw unauthenticated('expired', id);
    }
    const people = this.#spec.people;
    const person = Object.hasOwn(people, row.person) ? people[row.person] : undefined;
    if (person === undefined) throw unauthenticated('person-removed', id);
    if (person.tokens !== true) throw unauthenticated('tokens-not-allowed', id);

    const held = new Set(rolesOf(this.#spec, row.person));
    const roles = rowRoles(row).filter((role) => held.has(role));
    await this.#touch(row, now);
    return { kind: 'token', tokenId: id, person: row.person, roles };
  }

  /** Records the use, at most once per LAST_USED_RESOLUTION_MS; a failure here is ignored. */
  async #touch(row: TokenRow, now: Date): Promise<void> {
    const last = row.last_used_at === null ? undefined : Date.parse(row.last_used_at);
    if (last !== undefined && now.getTime() - last < LAST_USED_RESOLUTION_MS) return;
    const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS).toISOString();
    try {
      await this.#store.db
        .updateTable('tokens')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', row.id)
        // Another replica may have just written it: skip rather than write twice.
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', threshold)]))
        .execute();
    } catch {
      // Best effort: a busy or read-only store must not turn a valid request away.
    }
  }

  #recordRevocation(info: TokenInfo): Promise<unknown> {
    return this.#ledger.append({
      kind: 'event',
      subject: tokenSubject(info.person),
      // The admin who revoked it, also when a later revoke repairs a lost event.
      actor: info.revokedBy ?? info.createdBy,
      body: {
        type: 'token-revoked',
        details: {
          tokenId: info.id,
          person: info.person,
          roles: info.roles,
          expiresAt: info.expiresAt,
          ...(info.description === null ? {} : { description: info.description }),
        },
      },
    });
  }

  /**
   * Whether a revocation stored at least REVOKE_REPAIR_AFTER_MS ago has no event (its append
   * failed). Younger ones are left alone: their revoker may still be appending the event, and
   * repairing now would record the revocation twice.
   */
  async #revocationUnrecorded(info: TokenInfo, now: Date): Promise<boolean> {
    if (info.revokedAt === null) return false;
    if (now.getTime() - Date.parse(info.revokedAt) < REVOKE_REPAIR_AFTER_MS) return false;
    const events = await this.#ledger.list({
      kind: 'event',
      subject: tokenSubject(info.person),
      order: 'desc',
      limit: 10_000,
    });
    return !events.some(
      (record) =>
        record.kind === 'event' &&
        record.body.type === 'token-revoked' &&
        record.body.details.tokenId === info.id,
    );
  }

  #checkPerson(person: string): void {
    const people = this.#spec.people;
    const found = Object.hasOwn(people, person) ? people[person] : undefined;
    if (found === undefined) {
      const suggestion = didYouMean(person, Object.keys(people));
      const known = Object.keys(people);
      throw ShipError.usage(
        AuthErrorCode.unknownPerson,
        `No person "${person}" in the spec${suggestion ? `; did you mean "${suggestion}"?` : '.'}`,
        {
          details: { person, known },
          hint:
            known.length === 0
              ? 'add the person under people: in shipshape.yaml, with tokens: true'
              : `people in the spec: ${known.join(', ')}`,
        },
      );
    }
    if (found.tokens !== true) {
      throw ShipError.usage(
        AuthErrorCode.tokensNotAllowed,
        `Person "${person}" may not hold API tokens: the spec does not set people.${person}.tokens.`,
        {
          details: { person },
          hint: `set \`tokens: true\` under people.${person} in shipshape.yaml`,
        },
      );
    }
  }

  #narrowRoles(person: string, requested: readonly string[] | undefined): string[] {
    const held = rolesOf(this.#spec, person);
    if (requested === undefined) {
      if (held.length === 0) throw noRoles(person, 'holds no role in the spec');
      return held;
    }
    const roles = [...new Set(requested)];
    if (roles.length === 0) throw noRoles(person, 'was given an empty role list');
    for (const role of roles) {
      if (held.includes(role)) continue;
      const suggestion = didYouMean(role, held);
      throw ShipError.usage(
        AuthErrorCode.roleNotHeld,
        `Person "${person}" does not hold the role "${role}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; a token can only narrow its person's roles.`,
        {
          details: { person, role, held },
          hint:
            held.length === 0
              ? `give ${person} the role under roles: in shipshape.yaml first`
              : `choose from ${held.join(', ')}, or add ${person} to roles.${role} in shipshape.yaml first`,
        },
      );
    }
    return roles;
  }
}

/**
 * The subject of token events: the person the token acts as, so `ledger list --subject
 * person:ci` shows every token ci ever held. (Not `token:<id>`: the redactor reads
 * `token:<value>` as a credential.)
 */
export function tokenSubject(person: string): string {
  return `person:${person}`;
}

function noRoles(person: string, why: string): ShipError {
  return ShipError.usage(
    AuthErrorCode.noRoles,
    `A token for "${person}" would carry no role: the person ${why}.`,
    { details: { person }, hint: `add ${person} to a role under roles: in shipshape.yaml` },
  );
}

function tokenNotFound(id: string): ShipError {
  return ShipError.usage(AuthErrorCode.tokenNotFound, `No token with id "${id}".`, {
    details: { id },
    hint: 'list the tokens with `shipshape users tokens`; the id is the 12 hex digits after ssp_',
  });
}

function checkExpiry(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < MIN_TOKEN_EXPIRY_MS || ms > MAX_TOKEN_EXPIRY_MS) {
    const shown =
      !Number.isSafeInteger(ms) || ms < 0
        ? String(ms)
        : ms % DAY_MS === 0 && ms > 0
          ? `${ms / DAY_MS}d`
          : formatDuration(ms);
    throw ShipError.usage(
      AuthErrorCode.badExpiry,
      `A token must expire between 1 minute and ${MAX_TOKEN_EXPIRY_MS / DAY_MS} days from now, got ${shown}.`,
      { hint: 'pass e.g. --expires 90d (the default) or --expires 12h' },
    );
  }
  return ms;
}

function checkDescription(text: string | undefined): string | null {
  if (text === undefined || text.trim() === '') return null;
  if (text.length > MAX_DESCRIPTION_LENGTH || CONTROL.test(text)) {
    throw ShipError.usage(
      AuthErrorCode.badDescription,
      `A token description must be at most ${MAX_DESCRIPTION_LENGTH} characters on one line.`,
      { hint: 'say briefly what the token is for, e.g. --description "CI deploys of shop"' },
    );
  }
  // The ledger redacts what it records; the stored row must hold no more than the event does.
  return redact(text.trim());
}
