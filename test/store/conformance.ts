/**
 * The state-store conformance suite. Every backend runs all of it against the real thing
 * (SQLite on disk, a real PostgreSQL server); a test that cannot apply to a backend is skipped
 * with the reason the harness gives.
 */
import { hostname } from 'node:os';

import { afterEach, describe, expect, it } from 'vitest';
import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  migrations,
  openStore,
  StoreErrorCode,
  type LedgerRecordRow,
  type Store,
  type StoreLocation,
} from '../../src/store/index.js';
import { runTogether } from '../helpers/workers.js';
import { counterState, createCounter, incrementCounter } from './scratch.js';

/** A secret placed in unreachable locations; it must never appear in an error. */
export const CANARY_PASSWORD = 'canary-Pw-7f3e9a';

export interface FreshStore {
  location: StoreLocation;
  cleanup: () => Promise<void>;
}

export interface StoreHarness {
  dialect: 'sqlite' | 'postgres';
  /** A location holding no store yet (a new file path, a new empty database). */
  fresh(): Promise<FreshStore>;
  /** A location that cannot be reached or opened (with CANARY_PASSWORD in it where it can carry one). */
  unreachable(): Promise<FreshStore>;
  /** A location holding a corrupt store, or why this backend cannot have one. */
  corrupt: (() => Promise<FreshStore>) | { skip: string };
}

const WORKERS = 'test/store';

async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!isShipError(error)) throw error;
  return error;
}

function recordRow(seq: number, body: string): LedgerRecordRow {
  return {
    seq,
    id: `id-${seq}`,
    kind: 'event',
    gate: null,
    event_type: 'x-test',
    subject: 'conformance',
    actor: JSON.stringify({ kind: 'system' }),
    recorded_at: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
    body,
    prev_hash: `prev-${seq}`,
    hash: `hash-${seq}`,
  };
}

/** Registers the conformance suite for one backend. */
export function describeStoreConformance(harness: StoreHarness): void {
  describe(`store conformance: ${harness.dialect}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function freshLocation(): Promise<StoreLocation> {
      const fresh = await harness.fresh();
      cleanups.push(fresh.cleanup);
      return fresh.location;
    }

    async function openFresh(options: { migrate: boolean }): Promise<Store> {
      const store = await openStore(await freshLocation());
      // Closed before the location is cleaned up (cleanups run in reverse).
      cleanups.push(() => store.close());
      if (options.migrate) await store.migrate();
      return store;
    }

    it('reports its dialect and location', async () => {
      const location = await freshLocation();
      const store = await openStore(location);
      cleanups.push(() => store.close());
      expect(store.dialect).toBe(harness.dialect);
      expect(store.location).toBe(location.dialect === 'sqlite' ? location.path : location.url);
    });

    describe('migrate', () => {
      it('applies every known migration once, then nothing', async () => {
        const store = await openFresh({ migrate: false });
        const known = migrations.map((m) => m.name);
        expect(await store.migrate()).toEqual({ applied: known, known });
        expect(await store.migrate()).toEqual({ applied: [], known });

        const rows = await store.db.selectFrom('shipshape_migrations').selectAll().execute();
        expect(rows.map((r) => r.name)).toEqual(known);
        for (const row of rows) {
          expect(row.applied_by).toBe(`${hostname()}:${process.pid}`);
          expect(new Date(row.applied_at).toISOString()).toBe(row.applied_at);
        }
      });

      it('creates the ledger tables with unique ids and hashes', async () => {
        const store = await openFresh({ migrate: true });
        await store.db.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
        await expect(
          store.db
            .insertInto('ledger_records')
            .values({ ...recordRow(2, '{}'), id: 'id-1' })
            .execute(),
        ).rejects.toThrow();
        await expect(
          store.db
            .insertInto('ledger_records')
            .values({ ...recordRow(3, '{}'), hash: 'hash-1' })
            .execute(),
        ).rejects.toThrow();
        await store.db
          .insertInto('ledger_checkpoints')
          .values({
            seq: 1,
            head_hash: 'hash-1',
            signed_at: '2025-01-01T00:00:00.000Z',
            key_id: 'k',
            signature: 's',
          })
          .execute();
        const counted = await store.db
          .selectFrom('ledger_records')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        // Same JS type from both dialects (PostgreSQL's bigint is parsed as a number).
        expect(counted.n).toBe(1);
      });

      it('refuses a store migrated by a newer shipshape', async () => {
        const store = await openFresh({ migrate: true });
        await store.db
          .insertInto('shipshape_migrations')
          .values({
            name: '9999_from_the_future',
            applied_at: new Date().toISOString(),
            applied_by: 'elsewhere:1',
          })
          .execute();
        const error = await rejection(store.migrate());
        expect(error.code).toBe(StoreErrorCode.newerSchema);
        expect(error.exitCode).toBe(3);
        expect(error.message).toContain('9999_from_the_future');
        expect(error.message).toContain('Upgrade shipshape');
        expect(error.message).toContain(store.location);
      });

      it('applies the schema exactly once when 6 processes migrate an empty store at once', async () => {
        const location = await freshLocation();
        const results = await runTogether(
          `${WORKERS}/migrate-worker.ts`,
          Array.from({ length: 6 }, () => [JSON.stringify(location)]),
        );
        for (const result of results) {
          expect(result.stderr).toBe('');
          expect(result.code).toBe(0);
        }
        const reports = results.map(
          (r) => JSON.parse(r.lines.at(-1)!) as { applied: string[]; appliedBy: string },
        );

        const store = await openStore(location);
        cleanups.push(() => store.close());
        const rows = await store.db
          .selectFrom('shipshape_migrations')
          .selectAll()
          .orderBy('name')
          .execute();
        expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
        for (const row of rows) {
          const appliers = reports.filter((r) => r.applied.includes(row.name));
          expect(appliers).toHaveLength(1);
          expect(row.applied_by).toBe(appliers[0]!.appliedBy);
        }
        // Every process finished with a complete schema.
        expect(await store.migrate()).toMatchObject({ applied: [] });
      });
    });

    describe('exclusive', () => {
      it('commits when fn resolves and returns its value', async () => {
        const store = await openFresh({ migrate: true });
        const result = await store.exclusive('test:commit', async (trx) => {
          await trx.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
          return 'done';
        });
        expect(result).toBe('done');
        const rows = await store.db.selectFrom('ledger_records').select('seq').execute();
        expect(rows).toEqual([{ seq: 1 }]);
      });

      it('rolls back when fn throws, rethrows the same error and releases the lock', async () => {
        const store = await openFresh({ migrate: true });
        const failure = new Error('boom');
        await expect(
          store.exclusive('test:rollback', async (trx) => {
            await trx.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
            await trx
              .insertInto('ledger_checkpoints')
              .values({ seq: 1, head_hash: 'h', signed_at: 's', key_id: 'k', signature: 's' })
              .execute();
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.db.selectFrom('ledger_records').selectAll().execute()).toEqual([]);
        expect(await store.db.selectFrom('ledger_checkpoints').selectAll().execute()).toEqual([]);
        // The lock was released: the same lock can be taken again.
        await store.exclusive('test:rollback', async (trx) => {
          await trx.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
        });
        expect(await store.db.selectFrom('ledger_records').select('seq').execute()).toEqual([
          { seq: 1 },
        ]);
      });

      it('rolls back when a statement fails', async () => {
        const store = await openFresh({ migrate: true });
        await expect(
          store.exclusive('test:rollback', async (trx) => {
            await trx.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
            await trx.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
          }),
        ).rejects.toThrow();
        expect(await store.db.selectFrom('ledger_records').selectAll().execute()).toEqual([]);
      });

      it('refuses nested transactions, nested exclusive and store.db inside, and rolls back', async () => {
        const store = await openFresh({ migrate: true });
        const attempts: ((
          trx: Parameters<Parameters<Store['exclusive']>[1]>[0],
        ) => Promise<unknown>)[] = [
          (trx) => trx.transaction().execute(() => Promise.resolve()),
          () => store.exclusive('test:inner', () => Promise.resolve()),
          () => store.db.selectFrom('ledger_records').selectAll().execute(),
        ];
        for (const attempt of attempts) {
          await expect(
            store.exclusive('test:outer', async (trx) => {
              await trx.insertInto('ledger_records').values(recordRow(1, '{}')).execute();
              await attempt(trx);
            }),
          ).rejects.toThrow(/transaction/i);
          expect(await store.db.selectFrom('ledger_records').selectAll().execute()).toEqual([]);
        }
      });

      it('serialises read-modify-write across 4 processes', async () => {
        const store = await openFresh({ migrate: true });
        await createCounter(store);
        const location = JSON.stringify(
          store.dialect === 'sqlite'
            ? { dialect: 'sqlite', path: store.location }
            : { dialect: 'postgres', url: store.location },
        );
        const workers = 4;
        const each = 40;
        const results = await runTogether(
          `${WORKERS}/counter-worker.ts`,
          Array.from({ length: workers }, (_, w) => [location, String(w), String(each)]),
        );
        for (const result of results) {
          expect(result.stderr).toBe('');
          expect(result.code).toBe(0);
        }
        // No lost update: every increment read a distinct value, 0 … n-1, and the total is exact.
        const state = await counterState(store);
        expect(state.value).toBe(workers * each);
        expect(state.seen).toEqual(Array.from({ length: workers * each }, (_, i) => i));
      });

      it('serialises read-modify-write across two stores in one process', async () => {
        const first = await openFresh({ migrate: true });
        await createCounter(first);
        const second = await openStore(
          first.dialect === 'sqlite'
            ? { dialect: 'sqlite', path: first.location }
            : { dialect: 'postgres', url: first.location },
        );
        cleanups.push(() => second.close());
        const each = 30;
        await Promise.all(
          [first, second].map(async (store, worker) => {
            for (let n = 0; n < each; n += 1) await incrementCounter(store, worker);
          }),
        );
        const state = await counterState(first);
        expect(state.value).toBe(2 * each);
        expect(state.seen).toEqual(Array.from({ length: 2 * each }, (_, i) => i));
      });
    });

    describe('data', () => {
      it('round-trips JSON text with unicode byte for byte', async () => {
        const store = await openFresh({ migrate: true });
        const value = {
          emoji: '🚢⚓️👩🏽‍🚀',
          cjk: '船形整頓',
          rtl: 'سفينة',
          combining: 'e\u0301 n\u0303',
          quotes: `"'\\\``,
          controls: '\u0000\t\n\r\u001f',
          loneSurrogate: '\ud800',
          nonBmp: '𝕊𝕙𝕚𝕡',
        };
        const body = JSON.stringify(value);
        const actor = JSON.stringify({ name: 'Zoë Ångström', roles: ['sre-lead'] });
        await store.exclusive('test:json', async (trx) => {
          await trx
            .insertInto('ledger_records')
            .values({ ...recordRow(1, body), actor })
            .execute();
        });
        const row = await store.db
          .selectFrom('ledger_records')
          .select(['body', 'actor'])
          .where('seq', '=', 1)
          .executeTakeFirstOrThrow();
        expect(row.body).toBe(body);
        expect(row.actor).toBe(actor);
        expect(JSON.parse(row.body)).toEqual(value);
      });
    });

    describe('errors', () => {
      it('reports an unreachable store with its location, no password, and a fix', async () => {
        const unreachable = await harness.unreachable();
        cleanups.push(unreachable.cleanup);
        const error = await rejection(openStore(unreachable.location));
        expect(error.code).toBe(StoreErrorCode.unreachable);
        expect(error.exitCode).toBe(3);
        const text = JSON.stringify(error.toJSON());
        expect(text).not.toContain(CANARY_PASSWORD);
        const shown =
          unreachable.location.dialect === 'sqlite'
            ? unreachable.location.path
            : unreachable.location.url.replace(CANARY_PASSWORD, '[REDACTED]');
        expect(error.message).toContain(shown);
        expect(error.hint).toBeTruthy();
      });

      const { corrupt } = harness;
      if (typeof corrupt === 'function') {
        it('reports a corrupt store as SHIP_STORE_CORRUPT', async () => {
          const fresh = await corrupt();
          cleanups.push(fresh.cleanup);
          const error = await rejection(openStore(fresh.location));
          expect(error.code).toBe(StoreErrorCode.corrupt);
          expect(error.exitCode).toBe(3);
          expect(error.message).toMatch(/corrupt/);
          expect(error.hint).toMatch(/restore/);
        });
      } else {
        it.skip(`reports a corrupt store as SHIP_STORE_CORRUPT (${corrupt.skip})`, () => undefined);
      }
    });
  });
}
