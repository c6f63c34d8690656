import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { isShipError, redact } from '../core/index.js';
import { guardDialect } from './driver.js';
import {
  codeOf,
  reasonOf,
  storeBadUrl,
  storePermissionDenied,
  storeUnreachable,
} from './errors.js';
import { redactUrl } from './redact.js';
import { createStore, ExclusiveScope } from './store.js';
import type { Database as Schema, Store, StoreDb } from './types.js';

/** How long connecting may take before the store counts as unreachable (unless the URL sets `connect_timeout`). */
const CONNECT_TIMEOUT_MS = 10_000;

/** Errors that mean "no usable connection": network, connection class 08, auth (28), no such database, server starting or shutting down, too many connections. */
// 55000 object_not_in_prerequisite_state: "database is not currently accepting connections".
const CONNECTION_ERRORS =
  /^(E(CONNREFUSED|CONNRESET|NOTFOUND|AI_AGAIN|TIMEDOUT|HOSTUNREACH|NETUNREACH|PIPE)|08...|28...|3D000|55000|57P0[1-3]|53300)$/;

/**
 * Opens the PostgreSQL state store at `url` (a `pg` pool behind Kysely) and checks that it
 * answers. `bigint` results (e.g. `count(*)`) come back as numbers, as they do from SQLite, so
 * services read the same types from both dialects.
 *
 * @example
 * const store = await openPostgresStore('postgres://shipshape@db:5432/shipshape');
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const location = redactUrl(url);
  if (!URL.canParse(url)) throw storeBadUrl(location);
  const mapError = postgresErrorMapper(location);
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  const pool = new pg.Pool({
    connectionString: url,
    application_name: 'shipshape',
    types,
    ...(new URL(url).searchParams.has('connect_timeout')
      ? {}
      : { connectionTimeoutMillis: CONNECT_TIMEOUT_MS }),
  });
  // An idle connection the server drops emits 'error' on the pool; unhandled, that would kill
  // the process. The next query reports the problem through mapError instead.
  pool.on('error', () => undefined);

  const scope = new ExclusiveScope();
  const dialect = guardDialect(new PostgresDialect({ pool }), {
    mapError,
    beforeAcquire: () => {
      scope.assertOutside('store.db used');
    },
  });
  const db = new Kysely<Schema>({ dialect });
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return createStore({ dialect: 'postgres', location, db, lock: advisoryLock }, scope);
}

/**
 * A transaction-scoped advisory lock: released by COMMIT or ROLLBACK, never leaked by a crashed
 * client. Names are prefixed so that other applications sharing the database do not collide.
 */
async function advisoryLock(trx: StoreDb, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`shipshape:${name}`}))`.execute(trx);
}

/** Translates connection failures and missing privileges into `SHIP_STORE_*`; other query errors pass through. */
function postgresErrorMapper(location: string): (error: unknown) => unknown {
  return (error) => {
    if (isShipError(error)) return error;
    const code = codeOf(error) ?? '';
    const reason = reasonOf(error);
    const connectionLost =
      CONNECTION_ERRORS.test(code) ||
      /timeout exceeded when trying to connect|Connection terminated/i.test(reason);
    // insufficient_privilege: a least-privilege role doing what only the owner may.
    if (code === '42501') return storePermissionDenied(location, redact(reason), error);
    if (!connectionLost) return error;
    // Driver messages may quote the URL; the password never leaves this process.
    return storeUnreachable('postgres', location, redact(reason), error);
  };
}
