/**
 * TokenService against a real store, run once per backend (SQLite file, real PostgreSQL):
 * minting rules, narrowing, expiry with an injected clock, revocation, the spec narrowing live
 * tokens, and that neither the token nor its hash reaches the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthFailure,
  tokenSubject,
  TOKEN_PATTERN,
  TokenService,
  authFailureReason,
  hashToken,
  type AuthFailureReason,
} from '../../src/auth/index.js';
import { ExitCode, ShipError } from '../../src/core/index.js';
import { Ledger, type Actor, type AppendInput, type LedgerRecord } from '../../src/ledger/index.js';
import { parseSpec, type Spec } from '../../src/spec/index.js';
import { openStore, type Store, type StoreLocation } from '../../src/store/index.js';

export interface Backend {
  name: string;
  /** A fresh, empty database for this file. */
  create(): Promise<{ location: StoreLocation; cleanup: () => Promise<void> }>;
}

const HOUR = 60 * 60 * 1000;

/** A spec whose parts tests replace to show the spec narrowing live tokens. */
function specYaml(parts: { ciPerson?: string; ciRoles?: string[] } = {}): Spec {
  const ciRoles = parts.ciRoles ?? ['sre-lead', 'deployer', 'qa-lead'];
  const holders = (role: string, others: string[]) =>
    `[${[...others, ...(ciRoles.includes(role) ? ['ci'] : [])].join(', ')}]`;
  return parseSpec(
    `version: 1
service:
  name: shop
people:
  alice:
    name: Alice Admin
    os_users: [alice]
    tokens: true
  bob:
    name: Bob
    os_users: [bob]
  carol:
    name: Carol
    tokens: true
${parts.ciPerson ?? '  ci:\n    name: CI\n    tokens: true'}
roles:
  admin: [alice]
  sre-lead: ${holders('sre-lead', ['alice'])}
  deployer: ${holders('deployer', [])}
  qa-lead: ${holders('qa-lead', ['bob'])}
`,
    'shipshape.yaml',
  ).spec;
}

const admin: Actor = { kind: 'os-user', osUser: 'alice', person: 'alice', roles: ['admin'] };

function shipError(error: unknown): ShipError {
  if (error instanceof ShipError) return error;
  throw error;
}

async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  try {
    await promise;
  } catch (error) {
    return shipError(error);
  }
  throw new Error('expected the call to fail');
}

async function rejectedBecause(promise: Promise<unknown>): Promise<AuthFailureReason> {
  const error = await rejection(promise);
  expect(error.code).toBe('SHIP_AUTH_UNAUTHENTICATED');
  expect(error.exitCode).toBe(ExitCode.forbidden);
  // The caller learns nothing about why: one message, no details.
  expect(error.message).toBe(
    'Authentication failed: the token is missing, invalid, expired or revoked.',
  );
  expect(error.toJSON().details).toBeUndefined();
  expect(error.cause).toBeInstanceOf(AuthFailure);
  return authFailureReason(error)?.reason ?? 'missing';
}

/** A ledger whose next append fails, as if the store went away mid-revoke. */
class FlakyLedger extends Ledger {
  failNext = false;
  override append(input: AppendInput): Promise<LedgerRecord> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('store went away'));
    }
    return super.append(input);
  }
}

/** The token events of one token, oldest first. */
async function tokenEvents(ledger: Ledger, id: string): Promise<LedgerRecord[]> {
  const records = await ledger.list({ kind: 'event', subject: tokenSubject('ci'), limit: 10_000 });
  return records.filter((r) => r.kind === 'event' && r.body.details.tokenId === id);
}

export function tokenSuite(backend: Backend): void {
  describe(`tokens on ${backend.name}`, () => {
    let store: Store;
    let ledger: FlakyLedger;
    let cleanup: () => Promise<void>;
    let clock = new Date('2025-06-01T12:00:00.000Z');
    const now = () => clock;
    const service = (spec: Spec = specYaml()) => new TokenService({ store, ledger, spec, now });

    beforeAll(async () => {
      const created = await backend.create();
      cleanup = created.cleanup;
      store = await openStore(created.location);
      await store.migrate();
      ledger = new FlakyLedger(store, {});
    });
    afterAll(async () => {
      await store.close();
      await cleanup();
    });

    it('mints a token that authenticates as its person with all their roles', async () => {
      const tokens = service();
      const { token, info } = await tokens.mint({ person: 'ci', description: 'CI deploys' }, admin);
      expect(token).toMatch(TOKEN_PATTERN);
      expect(token.startsWith(`ssp_${info.id}_`)).toBe(true);
      expect(info).toMatchObject({
        person: 'ci',
        roles: ['sre-lead', 'deployer', 'qa-lead'],
        description: 'CI deploys',
        createdAt: clock.toISOString(),
        createdBy: admin,
        expiresAt: new Date(clock.getTime() + 90 * 24 * HOUR).toISOString(),
        revokedAt: null,
        status: 'active',
      });
      expect(info).not.toHaveProperty('hash');
      expect(await tokens.authenticate(token)).toEqual({
        kind: 'token',
        tokenId: info.id,
        person: 'ci',
        roles: ['sre-lead', 'deployer', 'qa-lead'],
      });
    });

    it('stores only the hash and records an event without the token or its hash', async () => {
      const { token, info } = await service().mint({ person: 'ci', roles: ['deployer'] }, admin);
      const row = await store.db
        .selectFrom('tokens')
        .selectAll()
        .where('id', '=', info.id)
        .executeTakeFirstOrThrow();
      expect(row.hash).toBe(hashToken(token));
      const secret = token.slice(`ssp_${info.id}_`.length);
      const everything = JSON.stringify([
        await store.db.selectFrom('tokens').selectAll().execute(),
        await store.db.selectFrom('ledger_records').selectAll().execute(),
      ]);
      expect(everything).not.toContain(secret);
      const records = await tokenEvents(ledger, info.id);
      expect(records).toHaveLength(1);
      const [minted] = records;
      expect(minted).toMatchObject({
        kind: 'event',
        actor: admin,
        body: {
          type: 'token-minted',
          details: {
            tokenId: info.id,
            person: 'ci',
            roles: ['deployer'],
            expiresAt: info.expiresAt,
          },
        },
      });
      const recorded = JSON.stringify(minted);
      expect(recorded).not.toContain(secret);
      expect(recorded).not.toContain(row.hash);
    });

    it('narrows roles, and refuses roles the person does not hold', async () => {
      const tokens = service();
      const { token } = await tokens.mint({ person: 'ci', roles: ['qa-lead'] }, admin);
      expect((await tokens.authenticate(token)).roles).toEqual(['qa-lead']);

      const widened = await rejection(tokens.mint({ person: 'ci', roles: ['admin'] }, admin));
      expect(widened.code).toBe('SHIP_AUTH_ROLE_NOT_HELD');
      expect(widened.exitCode).toBe(ExitCode.usage);
      expect(widened.message).toContain('"admin"');
      const typo = await rejection(tokens.mint({ person: 'ci', roles: ['deployr'] }, admin));
      expect(typo.message).toContain('did you mean "deployer"');
      const none = await rejection(tokens.mint({ person: 'ci', roles: [] }, admin));
      expect(none.code).toBe('SHIP_AUTH_NO_ROLES');
      const roleless = await rejection(tokens.mint({ person: 'carol' }, admin));
      expect(roleless.code).toBe('SHIP_AUTH_NO_ROLES');
    });

    it('mints only for people in the spec who may hold tokens', async () => {
      const tokens = service();
      const unknown = await rejection(tokens.mint({ person: 'cj' }, admin));
      expect(unknown.code).toBe('SHIP_AUTH_UNKNOWN_PERSON');
      expect(unknown.exitCode).toBe(ExitCode.usage);
      expect(unknown.message).toContain('did you mean "ci"');
      expect((await rejection(tokens.mint({ person: 'constructor' }, admin))).code).toBe(
        'SHIP_AUTH_UNKNOWN_PERSON',
      );
      const bob = await rejection(tokens.mint({ person: 'bob' }, admin));
      expect(bob.code).toBe('SHIP_AUTH_TOKENS_NOT_ALLOWED');
      expect(bob.hint).toContain('tokens: true');
    });

    it('lets only an admin mint or revoke', async () => {
      const tokens = service();
      const { token, info } = await tokens.mint({ person: 'ci' }, admin);
      const ci = await tokens.authenticate(token);
      for (const attempt of [
        tokens.mint({ person: 'ci' }, ci),
        tokens.revoke(info.id, ci),
        tokens.mint({ person: 'ci' }, { kind: 'os-user', osUser: 'eve', roles: [] }),
      ]) {
        const error = await rejection(attempt);
        expect(error.code).toBe('SHIP_AUTH_FORBIDDEN');
        expect(error.exitCode).toBe(ExitCode.forbidden);
        expect(error.message).toContain('tokens.manage');
      }
      expect((await tokens.get(info.id)).status).toBe('active');
    });

    it('bounds and applies the expiry, by the injected clock', async () => {
      const tokens = service();
      const tooLong = await rejection(
        tokens.mint({ person: 'ci', expiresIn: 366 * 24 * HOUR }, admin),
      );
      expect(tooLong.code).toBe('SHIP_AUTH_BAD_EXPIRY');
      expect((await rejection(tokens.mint({ person: 'ci', expiresIn: 0 }, admin))).code).toBe(
        'SHIP_AUTH_BAD_EXPIRY',
      );

      const start = clock;
      const { token, info } = await tokens.mint({ person: 'ci', expiresIn: HOUR }, admin);
      try {
        clock = new Date(start.getTime() + HOUR - 1);
        expect((await tokens.authenticate(token)).tokenId).toBe(info.id);
        clock = new Date(start.getTime() + HOUR);
        expect(await rejectedBecause(tokens.authenticate(token))).toBe('expired');
        expect((await tokens.get(info.id)).status).toBe('expired');
      } finally {
        clock = start;
      }
    });

    it('revokes at once, idempotently, with one event', async () => {
      const tokens = service();
      const { token, info } = await tokens.mint({ person: 'ci' }, admin);
      const first = await tokens.revoke(info.id, admin);
      expect(first.alreadyRevoked).toBe(false);
      expect(first.info).toMatchObject({ status: 'revoked', revokedBy: admin });
      expect(await rejectedBecause(tokens.authenticate(token))).toBe('revoked');

      const again = await tokens.revoke(info.id, admin);
      expect(again.alreadyRevoked).toBe(true);
      expect(again.info.revokedAt).toBe(first.info.revokedAt);
      const events = await tokenEvents(ledger, info.id);
      expect(events.map((r) => (r.kind === 'event' ? r.body.type : r.kind))).toEqual([
        'token-minted',
        'token-revoked',
      ]);
      expect(events[1]?.actor).toEqual(admin);

      const missing = await rejection(tokens.revoke('0123456789ab', admin));
      expect(missing.code).toBe('SHIP_AUTH_TOKEN_NOT_FOUND');
      expect(missing.exitCode).toBe(ExitCode.usage);
    });

    it('records one revocation when two admins revoke at once', async () => {
      const tokens = service();
      const { info } = await tokens.mint({ person: 'ci' }, admin);
      const results = await Promise.all([
        tokens.revoke(info.id, admin),
        service().revoke(info.id, admin),
      ]);
      expect(results.map((r) => r.alreadyRevoked).sort()).toEqual([false, true]);
      const events = await tokenEvents(ledger, info.id);
      expect(events).toHaveLength(2);
    });

    it('appends a lost revocation event when revoking again a minute later', async () => {
      const tokens = service();
      const start = clock;
      const { token, info } = await tokens.mint({ person: 'ci' }, admin);
      ledger.failNext = true;
      const failed = await rejection(tokens.revoke(info.id, admin));
      expect(failed.code).toBe('SHIP_AUTH_REVOKE_UNRECORDED');
      expect(failed.hint).toContain(`users revoke ${info.id}`);
      // The revocation itself took effect.
      expect(await rejectedBecause(tokens.authenticate(token))).toBe('revoked');
      const types = async () =>
        (await tokenEvents(ledger, info.id)).map((r) => (r.kind === 'event' ? r.body.type : ''));
      try {
        // Within the minute the revoker may still be appending: no repair, no duplicate.
        clock = new Date(start.getTime() + 59_000);
        expect((await tokens.revoke(info.id, admin)).alreadyRevoked).toBe(true);
        expect(await types()).toEqual(['token-minted']);
        clock = new Date(start.getTime() + 60_000);
        expect((await tokens.revoke(info.id, admin)).alreadyRevoked).toBe(true);
        expect(await types()).toEqual(['token-minted', 'token-revoked']);
        const repaired = (await tokenEvents(ledger, info.id))[1];
        expect(repaired?.actor).toEqual(admin);
        clock = new Date(start.getTime() + 120_000);
        await tokens.revoke(info.id, admin);
        expect(await types()).toEqual(['token-minted', 'token-revoked']);
      } finally {
        clock = start;
      }
    });

    it('narrows a live token when the spec takes a role away, and rejects a removed person', async () => {
      const { token } = await service().mint({ person: 'ci' }, admin);
      const lessCi = service(specYaml({ ciRoles: ['qa-lead'] }));
      expect((await lessCi.authenticate(token)).roles).toEqual(['qa-lead']);
      // Giving the role back restores it: the token still carries it.
      expect((await service().authenticate(token)).roles).toEqual([
        'sre-lead',
        'deployer',
        'qa-lead',
      ]);
      const gone = service(specYaml({ ciPerson: '', ciRoles: [] }));
      expect(await rejectedBecause(gone.authenticate(token))).toBe('person-removed');
      const noTokens = service(
        specYaml({ ciPerson: '  ci:\n    name: CI\n    os_users: [ci]\n    tokens: false' }),
      );
      expect(await rejectedBecause(noTokens.authenticate(token))).toBe('tokens-not-allowed');
    });

    it('rejects missing, malformed, unknown and forged tokens alike', async () => {
      const tokens = service();
      const { token, info } = await tokens.mint({ person: 'ci' }, admin);
      const forged = `ssp_${info.id}_${'A'.repeat(43)}`;
      const unknown = `ssp_ffffffffffff_${'A'.repeat(43)}`;
      expect(await rejectedBecause(tokens.authenticate(undefined))).toBe('missing');
      expect(await rejectedBecause(tokens.authenticate(''))).toBe('missing');
      expect(await rejectedBecause(tokens.authenticate(`${token} `))).toBe('malformed');
      expect(await rejectedBecause(tokens.authenticate('Bearer x'))).toBe('malformed');
      expect(await rejectedBecause(tokens.authenticate(unknown))).toBe('unknown');
      expect(await rejectedBecause(tokens.authenticate(forged))).toBe('hash-mismatch');
    });

    it('records the last use at most once a minute', async () => {
      const tokens = service();
      const start = clock;
      const { token, info } = await tokens.mint({ person: 'ci' }, admin);
      const lastUsed = async () => (await tokens.get(info.id)).lastUsedAt;
      try {
        expect(await lastUsed()).toBeNull();
        await tokens.authenticate(token);
        expect(await lastUsed()).toBe(start.toISOString());
        clock = new Date(start.getTime() + 59_000);
        await tokens.authenticate(token);
        expect(await lastUsed()).toBe(start.toISOString());
        clock = new Date(start.getTime() + 60_000);
        await tokens.authenticate(token);
        expect(await lastUsed()).toBe(clock.toISOString());
      } finally {
        clock = start;
      }
    });

    it('lists every token with its status and never a token or hash', async () => {
      const start = clock;
      await service().mint({ person: 'ci', expiresIn: HOUR }, admin);
      clock = new Date(start.getTime() + 2 * HOUR);
      const list = await service().list();
      clock = start;
      expect(list.length).toBeGreaterThan(5);
      expect(new Set(list.map((t) => t.status))).toEqual(new Set(['active', 'expired', 'revoked']));
      const text = JSON.stringify(list);
      const hashes = await store.db.selectFrom('tokens').select('hash').execute();
      for (const { hash } of hashes) expect(text).not.toContain(hash);
      expect(text).not.toMatch(/ssp_[0-9a-f]{12}_/);
    });
  });
}
