import { ShipError, registerSecret } from '../core/index.js';

import { DatastoreErrorCode } from './errors.js';

/** A PostgreSQL connection, split so that the password never reaches a command line. */
export interface PgConnection {
  /** Full URL including the password: for the in-process client only. */
  readonly url: string;
  /** The URL without a password: for `pg_dump --dbname` (the password goes in PGPASSWORD). */
  readonly urlWithoutPassword: string;
  readonly password: string | undefined;
  readonly database: string;
  /** `user@host:port/database`, safe to print. */
  readonly location: string;
}

const KV_PAIR = /([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)/g;

function badConnection(why: string): ShipError {
  return ShipError.usage(DatastoreErrorCode.badConnection, `the PostgreSQL connection ${why}`, {
    hint: 'write it as postgres://USER@HOST:PORT/DATABASE with the password as ${env:NAME}',
  });
}

/** `host=h port=5432 dbname=d user=u password=p sslmode=require` → a URL. */
function keyValueToUrl(text: string): string {
  const params = new Map<string, string>();
  for (const match of text.matchAll(KV_PAIR)) {
    const raw = match[2] ?? '';
    const value = raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    params.set((match[1] ?? '').toLowerCase(), value);
  }
  if (params.size === 0) throw badConnection('is neither a postgres:// URL nor key=value pairs');
  const url = new URL('postgres://localhost');
  const take = (key: string) => {
    const value = params.get(key);
    params.delete(key);
    return value;
  };
  const host = take('host') ?? take('hostaddr');
  if (host !== undefined && !host.startsWith('/')) url.hostname = host;
  else if (host !== undefined) url.searchParams.set('host', host);
  const port = take('port');
  if (port !== undefined) url.port = port;
  const user = take('user');
  if (user !== undefined) url.username = encodeURIComponent(user);
  const password = take('password');
  if (password !== undefined) url.password = encodeURIComponent(password);
  url.pathname = `/${encodeURIComponent(take('dbname') ?? user ?? 'postgres')}`;
  for (const [key, value] of params) url.searchParams.set(key, value);
  return url.toString();
}

/**
 * Parses a `postgres://` / `postgresql://` URL or a libpq key=value string and registers its
 * password with the redactor. Throws `SHIP_DATASTORE_BAD_CONNECTION` (exit 2) when it cannot.
 */
export function parsePgConnection(text: string): PgConnection {
  const trimmed = text.trim();
  const source = /^postgres(?:ql)?:\/\//i.test(trimmed) ? trimmed : keyValueToUrl(trimmed);
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw badConnection('is not a valid URL');
  }
  let password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const queryPassword = url.searchParams.get('password');
  if (queryPassword !== null) {
    password ??= queryPassword;
    url.searchParams.delete('password');
  }
  if (password !== undefined) registerSecret(password);
  const withPassword = new URL(url.toString());
  if (password !== undefined) withPassword.password = encodeURIComponent(password);
  url.password = '';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
  const user = decodeURIComponent(url.username);
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  const location = `${user === '' ? '' : `${user}@`}${host}:${url.port || '5432'}/${database}`;
  return {
    url: withPassword.toString(),
    urlWithoutPassword: url.toString(),
    password,
    database,
    location,
  };
}
