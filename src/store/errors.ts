import { ExitCode, ShipError } from '../core/index.js';

/** Stable codes of the state store's errors. Tests and scripts match on them. */
export const StoreErrorCode = {
  /** The store cannot be reached or opened (server down, bad credentials, unwritable path). */
  unreachable: 'SHIP_STORE_UNREACHABLE',
  /** The SQLite file is not a database or is damaged. */
  corrupt: 'SHIP_STORE_CORRUPT',
  /** The store was migrated by a newer shipshape than this one. */
  newerSchema: 'SHIP_STORE_NEWER_SCHEMA',
  /** The store's write lock stayed held by another process for longer than the wait allows. */
  busy: 'SHIP_STORE_BUSY',
  /** The database role lacks a privilege the operation needs. */
  permissionDenied: 'SHIP_STORE_PERMISSION_DENIED',
  /** `SHIPSHAPE_DATABASE_URL` is not a PostgreSQL URL. */
  badUrl: 'SHIP_STORE_BAD_URL',
} as const;

export type StoreErrorCodeValue = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

const SQLITE_HINT =
  'check that the directory exists and is writable by this user, or set SHIPSHAPE_DATABASE_URL to use PostgreSQL';

const POSTGRES_HINT =
  'check SHIPSHAPE_DATABASE_URL (host, port, user, database) and that the PostgreSQL server is running and accepts connections from this host; unset SHIPSHAPE_DATABASE_URL to use the embedded SQLite store';

/** The store at `location` cannot be reached or opened; `reason` is the underlying error text. */
export function storeUnreachable(
  dialect: 'sqlite' | 'postgres',
  location: string,
  reason: string,
  cause: unknown,
): ShipError {
  const what =
    dialect === 'sqlite' ? 'open the SQLite state store' : 'reach the PostgreSQL state store';
  return ShipError.runtime(StoreErrorCode.unreachable, `Cannot ${what} at ${location}: ${reason}`, {
    hint: dialect === 'sqlite' ? SQLITE_HINT : POSTGRES_HINT,
    details: { dialect, location, reason },
    // A server may come back; a path will not fix itself.
    retryable: dialect === 'postgres',
    cause,
  });
}

/** The SQLite file at `location` is not a database or is damaged. */
export function storeCorrupt(location: string, reason: string, cause: unknown): ShipError {
  return ShipError.runtime(
    StoreErrorCode.corrupt,
    `The SQLite state store at ${location} is corrupt: ${reason}`,
    {
      hint: `move ${location} and its -wal and -shm files aside (keep them for investigation), then restore the store from a backup; with no backup, shipshape starts a new empty store at that path`,
      details: { dialect: 'sqlite', location, reason },
      retryable: false,
      cause,
    },
  );
}

/** The store records migrations this code does not know: it was written by a newer shipshape. */
export function storeNewerSchema(location: string, unknown: readonly string[]): ShipError {
  return ShipError.runtime(
    StoreErrorCode.newerSchema,
    `The state store at ${location} has schema migration(s) ${unknown.join(', ')} that this version of shipshape does not know: it was written by a newer shipshape. Upgrade shipshape.`,
    {
      hint: 'upgrade shipshape to the version that migrated this store (or newer); never downgrade against a migrated store',
      details: { location, unknownMigrations: [...unknown] },
      retryable: false,
    },
  );
}

/** The PostgreSQL role of `SHIPSHAPE_DATABASE_URL` lacks a privilege. */
export function storePermissionDenied(location: string, reason: string, cause: unknown): ShipError {
  return ShipError.runtime(
    StoreErrorCode.permissionDenied,
    `The PostgreSQL state store at ${location} refused the operation: ${reason}`,
    {
      hint: 'grant the role the privileges listed in docs/operations.md ("Least-privilege roles"); schema migrations must run as the owner role: `SHIPSHAPE_DATABASE_URL=<owner URL> shipshape store migrate`',
      details: { dialect: 'postgres', location, reason },
      retryable: false,
      cause,
    },
  );
}

/** The write lock was not granted within `waitedMs`. */
export function storeBusy(location: string, waitedMs: number, cause: unknown): ShipError {
  return new ShipError(
    StoreErrorCode.busy,
    `The state store at ${location} stayed locked by another process for ${Math.round(waitedMs / 1000)} s`,
    {
      exitCode: ExitCode.lockHeld,
      hint: 'another shipshape process is writing; retry when it has finished',
      details: { location, waitedMs },
      retryable: true,
      cause,
    },
  );
}

/** `SHIPSHAPE_DATABASE_URL` is set but is not a PostgreSQL URL. */
export function storeBadUrl(redacted: string): ShipError {
  return ShipError.usage(
    StoreErrorCode.badUrl,
    `SHIPSHAPE_DATABASE_URL must be a PostgreSQL URL (postgres://user@host:port/database), got ${redacted}`,
    {
      hint: 'set SHIPSHAPE_DATABASE_URL=postgres://USER@HOST:5432/DATABASE (password in PGPASSWORD or ~/.pgpass), or unset it to use the embedded SQLite store',
      details: { variable: 'SHIPSHAPE_DATABASE_URL' },
    },
  );
}

/** The message of an unknown thrown value. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The `code` property of an error (driver error codes such as `SQLITE_BUSY`, `ECONNREFUSED`). */
export function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const { code } = error;
  return typeof code === 'string' ? code : undefined;
}
