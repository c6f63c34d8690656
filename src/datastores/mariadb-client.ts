/**
 * MariaDB / MySQL connections, programs and queries. Queries run through the `mariadb` (or
 * `mysql`) command-line client with the SQL on standard input and the password in `MYSQL_PWD`,
 * so no password and no data ever reach a command line.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

import { ShipError, isShipError, registerSecret } from '../core/index.js';

import type { ToolRequirement } from './driver.js';
import { DatastoreErrorCode, toolMissing } from './errors.js';
import { childFailed, isSpawnEnoent, startChild, type ChildExit } from './process.js';

/** Environment variable naming the one directory to take MariaDB programs from. */
export const MARIADB_BIN_ENV = 'SHIPSHAPE_MARIADB_BIN';

/** Directories searched after PATH (Debian installs the server in /usr/sbin). */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];

/** A MariaDB or MySQL connection, split so that the password never reaches a command line. */
export interface MariadbConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly database: string;
  /** `user@host:port/database`, safe to print. */
  readonly location: string;
}

function badConnection(why: string): ShipError {
  return ShipError.usage(DatastoreErrorCode.badConnection, `the MariaDB connection ${why}`, {
    hint: 'write it as mysql://USER@HOST:PORT/DATABASE (or mariadb://…) with the password as ${env:NAME}',
  });
}

/**
 * Parses `mysql://user:password@host:port/database` (also `mariadb://`) and registers the
 * password with the redactor. Throws `SHIP_DATASTORE_BAD_CONNECTION` (exit 2) when it cannot.
 */
export function parseMariadbConnection(text: string): MariadbConnection {
  const trimmed = text.trim();
  if (!/^(?:mysql|mariadb):\/\//i.test(trimmed))
    throw badConnection('is not a mysql:// or mariadb:// URL');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw badConnection('is not a valid URL');
  }
  let password = url.password === '' ? undefined : decodeURIComponent(url.password);
  password ??= url.searchParams.get('password') ?? undefined;
  if (password !== undefined) registerSecret(password);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/'))
    throw badConnection('names no database (mysql://USER@HOST:PORT/DATABASE)');
  const user = url.username === '' ? undefined : decodeURIComponent(url.username);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port === '' ? 3306 : Number(url.port);
  return {
    host,
    port,
    user,
    password,
    database,
    location: `${user === undefined ? '' : `${user}@`}${host}:${port}/${database}`,
  };
}

/** Options every client program gets: no option files, where to connect, who as. */
export function connectionArgs(conn: MariadbConnection): string[] {
  return [
    '--no-defaults',
    `--host=${conn.host}`,
    `--port=${conn.port}`,
    ...(conn.user === undefined ? [] : [`--user=${conn.user}`]),
  ];
}

/** The password goes in `MYSQL_PWD` (read by mariadb, mariadb-dump and MySQL's clients). */
export function passwordEnv(conn: MariadbConnection): Record<string, string | undefined> {
  return { MYSQL_PWD: conn.password };
}

/** Debian package and Homebrew formula of a MariaDB program. */
export function mariadbRequirement(program: string): ToolRequirement {
  const server = program === 'mariadbd' || program === 'mariadb-install-db';
  return {
    name: program,
    debian: server ? 'mariadb-server' : 'mariadb-client',
    homebrew: 'mariadb',
  };
}

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A program found on disk and the version it reports. */
export interface MariadbTool {
  /** The name it was found under (`mariadb-dump` or `mysqldump`). */
  readonly name: string;
  readonly path: string;
  /** `mariadb-dump  Ver 10.19 Distrib 10.11.6-MariaDB, …` → `10.11.6-MariaDB`. */
  readonly version: string;
  /** True for MariaDB's programs, false for MySQL's. */
  readonly mariadb: boolean;
}

/** `… Distrib 10.11.6-MariaDB, for …` or `mysqldump  Ver 8.0.36 for Linux` → the version. */
export function parseMariadbVersion(text: string): string | undefined {
  return (
    /Distrib\s+([0-9][^\s,]*)/.exec(text)?.[1] ??
    /\bfrom\s+([0-9][^\s,]*)/.exec(text)?.[1] ??
    /\bVer\s+([0-9][^\s,]*)/.exec(text)?.[1]
  );
}

/**
 * Finds the first of `names` (e.g. `mariadb-dump`, then `mysqldump`) in `$SHIPSHAPE_MARIADB_BIN`
 * when set, else on PATH and in /usr/sbin. Missing → `SHIP_DATASTORE_TOOL_MISSING` naming the
 * Debian package of the first name.
 */
export async function findMariadbTool(
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<MariadbTool> {
  const first = names[0] ?? 'mariadb';
  const pinned = env[MARIADB_BIN_ENV];
  const dirs =
    pinned !== undefined && pinned !== ''
      ? [pinned]
      : [...(env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''), ...EXTRA_DIRS];
  for (const name of names) {
    for (const dir of dirs) {
      const path = join(dir, name);
      if (!(await executable(path))) continue;
      const text = await programVersion(path);
      const version = parseMariadbVersion(text) ?? 'unknown';
      return { name, path, version, mariadb: /mariadb/i.test(text) || name.startsWith('maria') };
    }
  }
  throw toolMissing(
    mariadbRequirement(first),
    `none of ${names.join(', ')} found in ${pinned !== undefined && pinned !== '' ? `${MARIADB_BIN_ENV}=${pinned}` : 'PATH or /usr/sbin'}`,
  );
}

async function programVersion(path: string): Promise<string> {
  try {
    const running = startChild(path, ['--version']);
    await running.exited;
    return running.stdoutText();
  } catch (error) {
    if (isSpawnEnoent(error)) return '';
    throw error;
  }
}

/** Client error numbers and what they mean for the user. */
const UNREACHABLE = new Set([2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053]);
const AUTH = new Set([1045, 1698, 1251]);
const PERMISSION = new Set([1044, 1142, 1143, 1227, 1370, 1449]);
const NOT_FOUND = new Set([1049]);

/** The server or client error number in a program's error output (`ERROR 1045 (28000): …`). */
export function mariadbErrorNumber(text: string): number | undefined {
  const match =
    /\bERROR\s+(\d{4})\b/.exec(text) ??
    /\b[Ee]rror:?\s+(\d{4})\b/.exec(text) ??
    /\((\d{4})\)/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** Maps a client program's failure to a stable code (unreachable, auth, permission, …). */
export function mariadbToolError(program: string, exit: ChildExit, location: string): ShipError {
  const number = mariadbErrorNumber(exit.stderr);
  const code =
    number === undefined
      ? DatastoreErrorCode.toolFailed
      : UNREACHABLE.has(number)
        ? DatastoreErrorCode.unreachable
        : AUTH.has(number)
          ? DatastoreErrorCode.authFailed
          : PERMISSION.has(number)
            ? DatastoreErrorCode.permissionDenied
            : NOT_FOUND.has(number)
              ? DatastoreErrorCode.notFound
              : DatastoreErrorCode.toolFailed;
  const error = childFailed(`${program} (MariaDB at ${location})`, exit, code);
  const hints: Record<string, string> = {
    [DatastoreErrorCode.unreachable]:
      'check that the server runs and the host, port and firewall allow the connection',
    [DatastoreErrorCode.authFailed]:
      'check the user and password of the connection (the password belongs in ${env:NAME})',
    [DatastoreErrorCode.permissionDenied]:
      'grant the backup user SELECT, SHOW VIEW, TRIGGER, EVENT and LOCK TABLES on the database (MySQL with binary logging: also RELOAD, REPLICATION CLIENT); see docs/datastores/mariadb.md',
    [DatastoreErrorCode.notFound]: 'create the database or fix its name in the connection',
  };
  const hint = hints[code];
  return new ShipError(error.code, error.message, {
    exitCode: error.exitCode,
    details: { ...error.details, location, ...(number === undefined ? {} : { number }) },
    retryable: code === DatastoreErrorCode.unreachable,
    ...(hint === undefined ? {} : { hint }),
  });
}

/** How to reach a server for {@link runSql}: a TCP connection, or a socket as an OS user. */
export type SqlEndpoint =
  | { readonly conn: MariadbConnection }
  | { readonly socket: string; readonly user: string; readonly location: string };

/**
 * Runs SQL (on standard input) with the client and returns the result rows, tab-separated
 * columns (`--batch --raw --skip-column-names`). Callers select only numbers and HEX() text, so
 * no value contains a tab or a newline.
 */
export async function runSql(
  client: MariadbTool,
  endpoint: SqlEndpoint,
  sql: string,
  database?: string,
): Promise<string[][]> {
  const conn = 'conn' in endpoint ? endpoint.conn : undefined;
  const target =
    'conn' in endpoint
      ? [...connectionArgs(endpoint.conn), '--connect-timeout=10']
      : [
          '--no-defaults',
          '--protocol=socket',
          `--socket=${endpoint.socket}`,
          `--user=${endpoint.user}`,
        ];
  const args = [
    ...target,
    '--default-character-set=utf8mb4',
    '--batch',
    '--raw',
    '--skip-column-names',
    ...(database !== undefined
      ? [`--database=${database}`]
      : conn === undefined
        ? []
        : [`--database=${conn.database}`]),
  ];
  const location = 'conn' in endpoint ? endpoint.conn.location : endpoint.location;
  let running;
  try {
    running = startChild(client.path, args, {
      env: conn === undefined ? { MYSQL_PWD: undefined } : passwordEnv(conn),
      stdin: true,
    });
    running.stdin?.end(sql);
    const exit = await running.exited;
    if (exit.code !== 0) throw mariadbToolError(client.name, exit, location);
  } catch (error) {
    if (isShipError(error)) throw error;
    if (isSpawnEnoent(error)) throw toolMissing(mariadbRequirement('mariadb'), String(error));
    throw error;
  }
  return running
    .stdoutText()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

/** `name` quoted as a MariaDB identifier. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** `text` as a MariaDB string literal (hex, so any bytes are safe). */
export function sqlString(text: string): string {
  return text === ''
    ? "''"
    : `CONVERT(0x${Buffer.from(text, 'utf8').toString('hex')} USING utf8mb4)`;
}

/** Decodes a HEX() column. */
export function unhex(text: string | undefined): string {
  return Buffer.from(text ?? '', 'hex').toString('utf8');
}
