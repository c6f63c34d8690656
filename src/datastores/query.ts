/**
 * Read-only queries against a data store, for integrity checks of a restored copy: one SQL value
 * (postgres, mariadb/mysql, sqlite) or the facts of one Redis key. Every query runs in a read-only
 * transaction (or on a read-only connection): a check can look, never change. That is a guard
 * against mistakes, not a security boundary; point drills at a sandbox or a DR target.
 */
import Database from 'better-sqlite3';
import type pg from 'pg';

import { ShipError, isShipError, redact } from '../core/index.js';
import type { DatastoreKind } from '../spec/index.js';

import type { Target } from './driver.js';
import { DatastoreErrorCode } from './errors.js';
import { fsError, pathFromConnection } from './local-files.js';
import { CLIENT_NAMES } from './mariadb-restore.js';
import {
  connectionArgs,
  findMariadbTool,
  mariadbErrorNumber,
  mariadbToolError,
  parseMariadbConnection,
  passwordEnv,
} from './mariadb-client.js';
import { parsePgConnection } from './postgres-connection.js';
import { pgError, withClient } from './postgres-client.js';
import { isSpawnEnoent, startChild } from './process.js';
import { parseRedisConnection, withRedis } from './redis-client.js';

/**
 * One value a query returned. PostgreSQL's bigint and numeric come back as text (they may not fit
 * a JavaScript number), MariaDB's values are all text, SQLite's integers are numbers when they
 * fit; dates are ISO 8601 text, binary values `\x` and hex.
 */
export type SqlValue = string | number | boolean | null;

/** How long one integrity query may run. */
export const QUERY_TIMEOUT_MS = 60_000;

/** Redis values up to this size are read for `equals`; larger ones only report their length. */
export const REDIS_VALUE_LIMIT = 64 * 1024;

const SHAPE_HINT =
  'write a query that returns one value, e.g. `SELECT count(*) FROM orders WHERE total < 0`';

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function shapeError(what: string): ShipError {
  return ShipError.usage(
    DatastoreErrorCode.queryShape,
    `the integrity query ${what}; it must return exactly one row with one column`,
    { hint: SHAPE_HINT },
  );
}

/** The single value of `rows`, or `SHIP_DATASTORE_QUERY_SHAPE` saying what came back. */
function singleValue(
  rows: readonly (readonly unknown[])[],
  columns: number,
  rowCount = rows.length,
): unknown {
  const row = rows[0];
  if (rowCount !== 1 || columns !== 1 || row === undefined) {
    throw shapeError(
      `returned ${plural(rowCount, 'row')}${columns > 0 ? ` and ${plural(columns, 'column')}` : ''}`,
    );
  }
  return row[0];
}

function queryFailed(location: string, message: string, cause?: unknown): ShipError {
  return ShipError.runtime(
    DatastoreErrorCode.queryFailed,
    redact(`the integrity query failed on ${location}: ${message}`),
    {
      details: { location },
      hint: 'fix the query in `integrity.checks` (it runs read-only against the restored copy)',
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A driver's value as a {@link SqlValue}. */
function toSqlValue(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  return JSON.stringify(value);
}

/** SQLSTATE classes that say the connection, not the query, failed (mapped by pgError). */
function isPgConnectionState(code: string): boolean {
  return /^(08|28|57P0)/.test(code) || code === '3D000';
}

async function postgresValue(target: Target, sql: string): Promise<SqlValue> {
  const conn = parsePgConnection(target.connection);
  return withClient(conn, 'running an integrity query', async (client) => {
    await client.query('BEGIN READ ONLY');
    try {
      await client.query(`SET LOCAL statement_timeout = ${QUERY_TIMEOUT_MS}`);
      // The extended protocol takes one statement only: `COMMIT; DELETE …` cannot slip out of
      // the read-only transaction.
      const config = { text: sql, rowMode: 'array' as const, queryMode: 'extended' };
      let result: pg.QueryArrayResult;
      try {
        result = await client.query(config);
      } catch (error) {
        const code = (error as { code?: unknown } | undefined)?.code;
        if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !isPgConnectionState(code))
          throw queryFailed(`PostgreSQL at ${conn.location}`, errorText(error), error);
        throw pgError(error, conn.location, 'running an integrity query');
      }
      return toSqlValue(singleValue(result.rows, result.fields.length));
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  });
}

const XML_ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

function xmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X'))
      return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return XML_ENTITIES[name] ?? whole;
  });
}

/**
 * Result sets of `mariadb --xml` output: rows of fields, NULL as `xsi:nil` (batch text output
 * could not tell NULL from the string 'NULL', nor keep tabs and newlines).
 */
export function parseMariadbXml(text: string): (string | null)[][][] {
  const sets: (string | null)[][][] = [];
  for (const set of text.matchAll(/<resultset\b[^>]*?(?:\/>|>([\s\S]*?)<\/resultset>)/g)) {
    const rows: (string | null)[][] = [];
    for (const row of (set[1] ?? '').matchAll(/<row>([\s\S]*?)<\/row>/g)) {
      const fields: (string | null)[] = [];
      for (const field of (row[1] ?? '').matchAll(
        /<field\b([^>]*?)(?:\/>|>([\s\S]*?)<\/field>)/g,
      )) {
        const nil = /\bxsi:nil="true"/.test(field[1] ?? '');
        fields.push(nil ? null : xmlText(field[2] ?? ''));
      }
      rows.push(fields);
    }
    sets.push(rows);
  }
  return sets;
}

async function mariadbValue(target: Target, sql: string): Promise<SqlValue> {
  const conn = parseMariadbConnection(target.connection);
  const client = await findMariadbTool(CLIENT_NAMES);
  const location = `MariaDB at ${conn.location}`;
  // The session default makes even a statement after a user's `COMMIT;` read-only.
  const input = [
    'SET SESSION TRANSACTION READ ONLY;',
    'START TRANSACTION READ ONLY;',
    sql.trim().replace(/;+\s*$/, ''),
    ';',
    'ROLLBACK;',
    '',
  ].join('\n');
  const args = [
    ...connectionArgs(conn),
    '--connect-timeout=10',
    '--default-character-set=utf8mb4',
    '--xml',
    `--database=${conn.database}`,
  ];
  let running;
  const limit = { hit: false };
  let timer: NodeJS.Timeout | undefined;
  try {
    running = startChild(client.path, args, { env: passwordEnv(conn), stdin: true });
    const child = running;
    // max_statement_time is MariaDB's and max_execution_time MySQL's; the client's clock works
    // for both.
    timer = setTimeout(() => {
      limit.hit = true;
      child.kill();
    }, QUERY_TIMEOUT_MS);
    running.stdin?.end(input);
    const exit = await running.exited;
    if (limit.hit) throw queryFailed(location, `no answer within ${QUERY_TIMEOUT_MS / 1000}s`);
    if (exit.code !== 0) {
      const error = mariadbToolError(client.name, exit, conn.location);
      if (
        error.code !== DatastoreErrorCode.toolFailed ||
        mariadbErrorNumber(exit.stderr) === undefined
      )
        throw error;
      const line = /^ERROR \d+.*$/m.exec(exit.stderr)?.[0] ?? exit.stderr.trim();
      throw queryFailed(location, line.replace(/ at line \d+/, ''));
    }
  } catch (error) {
    if (isShipError(error)) throw error;
    if (isSpawnEnoent(error)) throw queryFailed(location, `cannot run ${client.path}`, error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const sets = parseMariadbXml(running.stdoutText());
  if (sets.length !== 1) {
    throw shapeError(
      sets.length === 0
        ? 'returned no result (it is not a query)'
        : `returned ${sets.length} result sets (write one statement)`,
    );
  }
  const rows = sets[0] ?? [];
  return toSqlValue(singleValue(rows, rows[0]?.length ?? 0));
}

function sqliteValue(target: Target, sql: string): SqlValue {
  const path = pathFromConnection(target.connection);
  const doing = 'running an integrity query';
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    const code = (error as { code?: string } | undefined)?.code ?? '';
    throw fsError(
      code === 'SQLITE_CANTOPEN'
        ? Object.assign(new Error(String(error)), { code: 'ENOENT' })
        : error,
      path,
      doing,
    );
  }
  try {
    let statement: Database.Statement;
    try {
      statement = db.prepare(sql);
    } catch (error) {
      throw queryFailed(`SQLite at ${path}`, errorText(error), error);
    }
    if (!statement.reader) throw shapeError('returns no rows (it is not a query)');
    const columns = statement.columns().length;
    // Count every row (the shape error says how many) but keep only the first.
    const rows: unknown[][] = [];
    let count = 0;
    try {
      for (const row of statement.raw(true).safeIntegers(true).iterate() as Iterable<unknown[]>) {
        if (count++ === 0) rows.push(row);
      }
    } catch (error) {
      throw queryFailed(`SQLite at ${path}`, errorText(error), error);
    }
    return toSqlValue(singleValue(rows, columns, count));
  } finally {
    db.close();
  }
}

/**
 * Runs `sql` read-only against a postgres, mariadb/mysql or sqlite data store and returns its one
 * value. PostgreSQL: `BEGIN READ ONLY`, a 60 s `statement_timeout` and one statement only;
 * MariaDB/MySQL: a read-only session and transaction, a 60 s client-side limit; SQLite: a
 * read-only connection, one statement only.
 *
 * @throws ShipError `SHIP_DATASTORE_QUERY_SHAPE` (exit 2) unless exactly one row with one column
 *   came back (the message says how many); `SHIP_DATASTORE_QUERY_FAILED` with the server's
 *   (redacted) message for an SQL error; `SHIP_DATASTORE_QUERY_UNSUPPORTED` for other kinds;
 *   the connection errors of the drivers (`SHIP_DATASTORE_UNREACHABLE`, …).
 * @example
 * await queryValue('postgres', target, 'SELECT count(*) FROM orders'); // '42' (bigint as text)
 */
export async function queryValue(
  kind: DatastoreKind,
  target: Target,
  sql: string,
): Promise<SqlValue> {
  switch (kind) {
    case 'postgres':
      return postgresValue(target, sql);
    case 'mariadb':
    case 'mysql':
      return mariadbValue(target, sql);
    case 'sqlite':
      return sqliteValue(target, sql);
    default:
      throw ShipError.usage(
        DatastoreErrorCode.queryUnsupported,
        `data store ${target.name} is a ${kind} store, which cannot run SQL checks`,
        {
          hint: 'use `sql:` checks on postgres, mariadb, mysql and sqlite stores, `key:` on redis',
        },
      );
  }
}

/** What {@link redisKeyFacts} found about one key. */
export interface RedisKeyFacts {
  readonly exists: boolean;
  /** `string`, `list`, `set`, `zset`, `hash`, `stream` (or a module's type); null when absent. */
  readonly type: string | null;
  /**
   * STRLEN, LLEN, SCARD, ZCARD, HLEN or XLEN by type; null when absent or of a module's type.
   */
  readonly size: number | null;
  /** A string's value as UTF-8, when at most {@link REDIS_VALUE_LIMIT} bytes; else null. */
  readonly value: string | null;
}

const SIZE_COMMANDS: Readonly<Record<string, string>> = {
  string: 'STRLEN',
  list: 'LLEN',
  set: 'SCARD',
  zset: 'ZCARD',
  hash: 'HLEN',
  stream: 'XLEN',
};

/** The database number of `redis://host:port/3` (0 when none is named). */
function redisDatabase(connection: string): number {
  let path = '';
  try {
    path = new URL(connection).pathname;
  } catch {
    return 0; // parseRedisConnection has already reported it
  }
  const db = path.replace(/^\//, '');
  return /^\d+$/.test(db) ? Number(db) : 0;
}

/**
 * Type, size and (for strings up to 64 KiB) value of `key`, in database 0 unless the connection
 * names another (`redis://host:6379/2`). Only read commands are sent.
 *
 * @example
 * await redisKeyFacts(target, 'cart:42'); // { exists: true, type: 'hash', size: 3, value: null }
 */
export async function redisKeyFacts(target: Target, key: string): Promise<RedisKeyFacts> {
  const conn = parseRedisConnection(target.connection);
  const db = redisDatabase(target.connection);
  return withRedis(conn, `checking key ${JSON.stringify(key)}`, async (client) => {
    if (db !== 0) await client.command('SELECT', db);
    const type = await client.text('TYPE', key);
    if (type === 'none') return { exists: false, type: null, size: null, value: null };
    const command = SIZE_COMMANDS[type];
    const reply = command === undefined ? null : await client.command(command, key);
    const size = typeof reply === 'number' ? reply : null;
    let value: string | null = null;
    if (type === 'string' && size !== null && size <= REDIS_VALUE_LIMIT) {
      const bytes = await client.command('GET', key);
      value = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : null;
    }
    return { exists: true, type, size, value };
  });
}
