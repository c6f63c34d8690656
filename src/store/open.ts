import { isAbsolute, resolve } from 'node:path';
import { storeBadUrl } from './errors.js';
import { openPostgresStore } from './postgres.js';
import { redactUrl } from './redact.js';
import { openSqliteStore } from './sqlite.js';
import type { Store, StoreLocation } from './types.js';

/** Directory of the embedded store, relative to the workspace (the spec's directory). */
export const STORE_DIR = '.shipshape';
/** File name of the embedded store inside `STORE_DIR`. */
export const STORE_FILE = 'state.db';

/**
 * Where the state store lives: PostgreSQL when `SHIPSHAPE_DATABASE_URL` is set, else the
 * SQLite file `<workspaceDir>/.shipshape/state.db`.
 *
 * @throws ShipError SHIP_STORE_BAD_URL (exit 2) when the variable is not a PostgreSQL URL.
 * @example
 * storeLocation('/srv/app', {}) // { dialect: 'sqlite', path: '/srv/app/.shipshape/state.db' }
 */
export function storeLocation(
  workspaceDir: string,
  env: NodeJS.ProcessEnv = process.env,
): StoreLocation {
  const url = env.SHIPSHAPE_DATABASE_URL?.trim();
  if (url) {
    if (!/^postgres(ql)?:\/\//i.test(url) || !URL.canParse(url)) {
      throw storeBadUrl(redactUrl(url));
    }
    return { dialect: 'postgres', url };
  }
  const dir = isAbsolute(workspaceDir) ? workspaceDir : resolve(workspaceDir);
  return { dialect: 'sqlite', path: resolve(dir, STORE_DIR, STORE_FILE) };
}

/**
 * Opens the state store at `location` (creating an SQLite file if needed) and checks that it
 * answers. It does not migrate: call `store.migrate()` (safe from many processes at once).
 *
 * @throws ShipError SHIP_STORE_UNREACHABLE (exit 3) when the server or file cannot be reached,
 *   SHIP_STORE_CORRUPT (exit 3) when the SQLite file is not a database.
 */
export function openStore(location: StoreLocation): Promise<Store> {
  switch (location.dialect) {
    case 'sqlite':
      return openSqliteStore(location.path);
    case 'postgres':
      return openPostgresStore(location.url);
  }
}

/** The location as text fit for messages (password redacted). */
export function describeLocation(location: StoreLocation): string {
  return location.dialect === 'sqlite' ? location.path : redactUrl(location.url);
}
