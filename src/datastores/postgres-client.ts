/** The PostgreSQL client side shared by backup, restore and sandbox: connections, errors. */
import pg from 'pg';

import { ShipError, isShipError } from '../core/index.js';

import { DatastoreErrorCode } from './errors.js';
import type { PgConnection } from './postgres-connection.js';
import { childFailed, type ChildExit } from './process.js';

const CONNECT_TIMEOUT_MS = 10_000;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

interface PgErrorLike {
  code?: string;
  message?: string;
}

/** Maps a client error (network or server) to a ShipError with a stable code. */
export function pgError(error: unknown, location: string, doing: string): ShipError {
  if (isShipError(error)) return error;
  const { code, message = String(error) } = (error ?? {}) as PgErrorLike;
  const where = `PostgreSQL at ${location}`;
  const network = [
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ECONNRESET',
    'EPIPE',
  ];
  if (
    (code !== undefined && network.includes(code)) ||
    /timeout|Connection terminated/i.test(message)
  ) {
    return new ShipError(
      DatastoreErrorCode.unreachable,
      `cannot reach ${where} while ${doing}: ${message}`,
      {
        retryable: true,
        details: { location, code },
        hint: 'check that the server runs and the host, port and firewall allow the connection',
      },
    );
  }
  if (code === '57P01' || code === '57P02' || code === '57P03') {
    return new ShipError(
      DatastoreErrorCode.unreachable,
      `${where} went away while ${doing}: ${message}`,
      {
        retryable: true,
        details: { location, code },
        hint: 'the server restarted or shut down; run the backup again once it is up',
      },
    );
  }
  if (code === '28P01' || code === '28000') {
    return ShipError.runtime(
      DatastoreErrorCode.authFailed,
      `${where} rejected the credentials: ${message}`,
      {
        details: { location, code },
        hint: 'check the user and the password the connection references (never write it literally)',
      },
    );
  }
  if (code === '3D000') {
    return ShipError.runtime(DatastoreErrorCode.notFound, `${where}: ${message}`, {
      details: { location, code },
      hint: 'check the database name in the connection',
    });
  }
  if (code === '42501') {
    return ShipError.runtime(
      DatastoreErrorCode.permissionDenied,
      `${where} denied ${doing}: ${message}`,
      {
        details: { location, code },
        hint: 'grant the backup role read access, e.g. `GRANT pg_read_all_data TO backup` (PostgreSQL 14+)',
      },
    );
  }
  return ShipError.runtime(
    DatastoreErrorCode.toolFailed,
    `${where} failed while ${doing}: ${message}`,
    {
      details: { location, ...(code === undefined ? {} : { code }) },
    },
  );
}

/** Maps a failed pg_dump/pg_restore to the same codes as a client error, by its message. */
export function pgToolError(program: string, exit: ChildExit, location: string): ShipError {
  const text = exit.stderr;
  const code =
    /Connection refused|could not connect|could not translate host|timeout expired|server closed the connection|terminating connection/i.test(
      text,
    )
      ? DatastoreErrorCode.unreachable
      : /password authentication failed|no password supplied|authentication failed|role .* does not exist/i.test(
            text,
          )
        ? DatastoreErrorCode.authFailed
        : /permission denied/i.test(text)
          ? DatastoreErrorCode.permissionDenied
          : DatastoreErrorCode.toolFailed;
  const error = childFailed(`${program} (PostgreSQL at ${location})`, exit, code);
  return new ShipError(error.code, error.message, {
    exitCode: error.exitCode,
    details: { ...error.details, location },
    retryable: code === DatastoreErrorCode.unreachable,
    ...(code === DatastoreErrorCode.permissionDenied
      ? { hint: 'grant the backup role read access, e.g. `GRANT pg_read_all_data TO backup`' }
      : {}),
  });
}

export async function connect(conn: PgConnection, doing: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: conn.url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'shipshape',
  });
  // A server that goes away later emits 'error' on the client; the pending query rejects too,
  // which is where we report it. Without a listener the process would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw pgError(error, conn.location, doing);
  }
  return client;
}

export async function withClient<T>(
  conn: PgConnection,
  doing: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connect(conn, doing);
  try {
    return await fn(client);
  } catch (error) {
    throw pgError(error, conn.location, doing);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function serverVersion(
  client: pg.Client,
): Promise<{ major: number; version: string }> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  );
  const row = rows[0];
  if (row === undefined) throw new Error('server_version_num returned no row');
  return {
    major: Math.floor(Number(row.num) / 10_000),
    version: row.version.split(' ')[0] ?? row.version,
  };
}

export function passwordEnv(conn: PgConnection): Record<string, string | undefined> {
  // Never on argv; PGPASSFILE/PGSERVICE of the caller could point elsewhere, so the URL decides.
  return { PGPASSWORD: conn.password, PGCONNECT_TIMEOUT: '10' };
}
