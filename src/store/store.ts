import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { isShipError } from '../core/index.js';
import { storeNewerSchema } from './errors.js';
import { migrations } from './migrations/index.js';
import type { MigrationReport, Store, StoreDb, StoreDialect } from './types.js';

/** The lock `migrate()` takes; services must not use this name. */
const MIGRATION_LOCK = 'shipshape:migrations';

/** What a dialect gives the shared store core. */
export interface StoreParts {
  dialect: StoreDialect;
  location: string;
  db: StoreDb;
  /**
   * Takes the named lock inside the open transaction `trx`. SQLite has nothing to do (the
   * transaction began with `BEGIN IMMEDIATE`, the database-wide write lock).
   */
  lock(trx: StoreDb, name: string): Promise<void>;
}

/**
 * Tracks whether the current async context is inside `exclusive`. The drivers consult it so that
 * `store.db` used inside `exclusive` fails loudly instead of deadlocking (SQLite: the one
 * connection is held by the transaction) or silently escaping the transaction (PostgreSQL).
 */
export class ExclusiveScope {
  readonly #storage = new AsyncLocalStorage<string>();

  run<T>(lock: string, fn: () => Promise<T>): Promise<T> {
    return this.#storage.run(lock, fn);
  }

  /** Throws when called from inside `exclusive`; `what` names the misuse. */
  assertOutside(what: string): void {
    const lock = this.#storage.getStore();
    if (lock !== undefined) {
      throw new Error(
        `${what} inside store.exclusive('${lock}'): use the transaction passed to the callback; ` +
          'a second connection would wait on the lock the transaction holds',
      );
    }
  }
}

/** Names in `shipshape_migrations`, or undefined when the table does not exist yet. */
async function appliedMigrations(db: StoreDb): Promise<string[] | undefined> {
  try {
    const rows = await db.selectFrom('shipshape_migrations').select('name').execute();
    return rows.map((row) => row.name);
  } catch (error) {
    // Unreachable, corrupt, permission denied: the caller must see it. Anything else here is
    // "no such table", and the locked path creates it.
    if (isShipError(error)) throw error;
    return undefined;
  }
}

/** Builds the dialect-independent `Store` from a dialect's parts. */
export function createStore(parts: StoreParts, scope: ExclusiveScope): Store {
  const { dialect, location, db } = parts;

  const exclusive = <T>(lock: string, fn: (trx: StoreDb) => Promise<T>): Promise<T> => {
    scope.assertOutside('store.exclusive() called');
    // Kysely's transaction rolls back when fn throws and forbids nested `trx.transaction()`.
    return db.transaction().execute((trx) =>
      scope.run(lock, async () => {
        await parts.lock(trx, lock);
        return fn(trx);
      }),
    );
  };

  const migrate = async (): Promise<MigrationReport> => {
    const known = migrations.map((m) => m.name);
    // Fast path without the write lock or any DDL: an up-to-date store is the common case, and
    // a runtime role without CREATE privilege (docs/operations.md) must be able to open it.
    const current = await appliedMigrations(db);
    if (current !== undefined) {
      const unknown = current.filter((name) => !known.includes(name)).sort();
      if (unknown.length > 0) throw storeNewerSchema(location, unknown);
      if (known.every((name) => current.includes(name))) return { applied: [], known };
    }
    const applied = await exclusive(MIGRATION_LOCK, async (trx) => {
      // Created inside the lock: two processes never race to create it.
      await trx.schema
        .createTable('shipshape_migrations')
        .ifNotExists()
        .addColumn('name', 'text', (col) => col.primaryKey())
        .addColumn('applied_at', 'text', (col) => col.notNull())
        .addColumn('applied_by', 'text', (col) => col.notNull())
        .execute();
      const rows = await trx.selectFrom('shipshape_migrations').select('name').execute();
      const done = new Set(rows.map((row) => row.name));
      const unknown = [...done].filter((name) => !known.includes(name)).sort();
      if (unknown.length > 0) throw storeNewerSchema(location, unknown);

      const appliedNow: string[] = [];
      const appliedBy = `${hostname()}:${process.pid}`;
      for (const migration of migrations) {
        if (done.has(migration.name)) continue;
        // Migrations are written against an untyped database (they are frozen in time).
        await migration.up(trx as unknown as Kysely<unknown>);
        await trx
          .insertInto('shipshape_migrations')
          .values({
            name: migration.name,
            applied_at: new Date().toISOString(),
            applied_by: appliedBy,
          })
          .execute();
        appliedNow.push(migration.name);
      }
      return appliedNow;
    });
    return { applied, known };
  };

  return {
    dialect,
    location,
    db,
    migrate,
    exclusive,
    close: () => db.destroy(),
  };
}
