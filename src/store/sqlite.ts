import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { isShipError } from '../core/index.js';
import { guardDialect } from './driver.js';
import { codeOf, reasonOf, storeBusy, storeCorrupt, storeUnreachable } from './errors.js';
import { createStore, ExclusiveScope } from './store.js';
import type { Database as Schema, Store } from './types.js';

/** How long a statement, or a writer waiting for the write lock, waits for other processes. */
export const SQLITE_BUSY_TIMEOUT_MS = 15_000;

/** Longest pause between two attempts to take the write lock. */
const MAX_BACKOFF_MS = 25;

/**
 * Opens (creating if needed) the SQLite state store at `path`: WAL journal, `synchronous=FULL`
 * (a committed record survives power loss), foreign keys on, 15 s busy timeout. The parent
 * directory is created with mode 0700 and the database file with 0600: the store holds evidence
 * and hashed tokens, which are nobody else's business.
 *
 * @example
 * const store = await openSqliteStore('/srv/app/.shipshape/state.db');
 */
export async function openSqliteStore(path: string): Promise<Store> {
  const mapError = sqliteErrorMapper(path);
  const raw = await openDatabase(path);
  try {
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    // Reads the header and the schema: a file that is not a database fails here, not later.
    raw.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (error) {
    raw.close();
    throw mapError(error);
  }

  const scope = new ExclusiveScope();
  const dialect = guardDialect(new SqliteDialect({ database: raw }), {
    mapError,
    beforeAcquire: () => {
      scope.assertOutside('store.db used');
    },
    begin: () => beginImmediate(raw, path),
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL); a second
    // ROLLBACK would fail and hide the error that caused it.
    rollback: () => {
      if (raw.inTransaction) raw.exec('ROLLBACK');
      return Promise.resolve();
    },
  });
  const db = new Kysely<Schema>({ dialect });
  return createStore(
    { dialect: 'sqlite', location: path, db, lock: () => Promise.resolve() },
    scope,
  );
}

async function openDatabase(path: string): Promise<Database.Database> {
  const mapError = sqliteErrorMapper(path);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // Create the file ourselves so that it gets mode 0600; SQLite copies the mode of the
    // database file to its -wal and -shm files.
    await (await open(path, 'a', 0o600)).close();
    return new Database(path);
  } catch (error) {
    throw mapError(error);
  }
}

/**
 * Takes SQLite's write lock (`BEGIN IMMEDIATE`) without blocking the event loop: the busy
 * handler of better-sqlite3 sleeps synchronously, which would freeze every other task of this
 * process (and deadlock two stores on one file in one process). So the wait is ours: retry on
 * SQLITE_BUSY with a short backoff, for as long as `busy_timeout` would have waited.
 */
async function beginImmediate(raw: Database.Database, location: string): Promise<void> {
  const started = Date.now();
  raw.pragma('busy_timeout = 0');
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        raw.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if (!codeOf(error)?.startsWith('SQLITE_BUSY')) throw error;
        const waited = Date.now() - started;
        if (waited >= SQLITE_BUSY_TIMEOUT_MS) throw storeBusy(location, waited, error);
      }
      // 1, 2, 4 … 25 ms, with jitter so that waiting processes do not retry in lockstep.
      const backoff = Math.min(2 ** attempt, MAX_BACKOFF_MS);
      await delay(backoff / 2 + Math.random() * (backoff / 2));
    }
  } finally {
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  }
}

/** Translates better-sqlite3 and file-system errors into `SHIP_STORE_*` errors. */
function sqliteErrorMapper(location: string): (error: unknown) => unknown {
  return (error) => {
    if (isShipError(error)) return error;
    const code = codeOf(error) ?? '';
    const reason = reasonOf(error);
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      return storeCorrupt(location, reason, error);
    }
    if (code.startsWith('SQLITE_BUSY')) return storeBusy(location, SQLITE_BUSY_TIMEOUT_MS, error);
    if (
      /^(SQLITE_(CANTOPEN|PERM|READONLY|IOERR|AUTH)|E[A-Z]+$)/.test(code) ||
      // better-sqlite3 reports a missing directory as a plain TypeError.
      (error instanceof TypeError && reason.startsWith('Cannot open database'))
    ) {
      return storeUnreachable('sqlite', location, reason, error);
    }
    return error;
  };
}
