/**
 * Where the real services started by `scripts/services.sh up` listen, for integration tests.
 * Each URL comes from its environment variable, else from the env file the script writes,
 * else from the script's defaults.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

import { parseMariadbConnection } from '../../src/datastores/index.js';

const DEFAULTS = {
  SHIPSHAPE_TEST_POSTGRES_URL: 'postgres://shipshape@127.0.0.1:55432/shipshape',
  SHIPSHAPE_TEST_MARIADB_URL: 'mysql://shipshape@127.0.0.1:53306/shipshape',
  SHIPSHAPE_TEST_REDIS_URL: 'redis://127.0.0.1:56379',
} as const;

type ServiceVariable = keyof typeof DEFAULTS;

/** The directory `scripts/services.sh` keeps its data and env file in. */
export function servicesDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SHIPSHAPE_SERVICES_DIR ?? '/var/tmp/shipshape-services';
}

function envFile(): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(join(servicesDir(), 'env'), 'utf8');
  } catch {
    return {};
  }
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) values[match[1]!] = match[2]!;
  }
  return values;
}

function serviceUrl(name: ServiceVariable): string {
  return process.env[name] || envFile()[name] || DEFAULTS[name];
}

/** URL of the test PostgreSQL 15 server (superuser `shipshape`, database `shipshape`). */
export function postgresUrl(): string {
  return serviceUrl('SHIPSHAPE_TEST_POSTGRES_URL');
}

/** URL of the test MariaDB 10.11 server (user `shipshape` with all privileges). */
export function mariadbUrl(): string {
  return serviceUrl('SHIPSHAPE_TEST_MARIADB_URL');
}

/** URL of the test Redis 7 server. */
export function redisUrl(): string {
  return serviceUrl('SHIPSHAPE_TEST_REDIS_URL');
}

export interface ThrowawayDatabase {
  /** URL of the new, empty database. */
  url: string;
  /** Drops the database, disconnecting anyone still connected. */
  drop: () => Promise<void>;
}

/** A unique database name from a test's prefix, safe unquoted on PostgreSQL and MariaDB. */
function throwawayName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  return `t_${clean}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `cannot connect to the test PostgreSQL at ${postgresUrl()}: ${String(error)}; run \`bash scripts/services.sh up\``,
      { cause: error },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates an empty, uniquely named database on the test PostgreSQL server, so that test files
 * running in parallel never share state. Call `drop()` in `afterAll`/`afterEach`.
 *
 * @example
 * const db = await createPostgresDatabase('store');
 * try { … db.url … } finally { await db.drop(); }
 */
export async function createPostgresDatabase(prefix: string): Promise<ThrowawayDatabase> {
  const name = throwawayName(prefix);
  const quoted = `"${name}"`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${quoted}`));
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

/** The `mariadb` client's whole output for `text` (tab-separated rows, no column names). */
async function runMariadb(connection: string, text: string): Promise<string> {
  const conn = parseMariadbConnection(connection);
  const child = spawn(
    'mariadb',
    [
      '--no-defaults',
      `--host=${conn.host}`,
      `--port=${conn.port}`,
      ...(conn.user === undefined ? [] : [`--user=${conn.user}`]),
      `--database=${conn.database}`,
      '--default-character-set=utf8mb4',
      '--batch',
      '--raw',
      '--skip-column-names',
    ],
    { env: { ...process.env, MYSQL_PWD: conn.password ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
  child.stdin.end(text);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`mariadb failed: ${err}`);
  return out;
}

/**
 * Runs SQL through the `mariadb` client (password in MYSQL_PWD, utf8mb4), returning its output
 * trimmed: one value for a one-cell query.
 *
 * @example Number(await mariadbSql(db.url, 'SELECT count(*) FROM orders'))
 */
export async function mariadbSql(connection: string, text: string): Promise<string> {
  return (await runMariadb(connection, text)).trim();
}

/** {@link mariadbSql}, its output as rows of cells (empty cells kept). */
export async function mariadbRows(connection: string, text: string): Promise<string[][]> {
  return (await runMariadb(connection, text))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

/**
 * Creates an empty, uniquely named utf8mb4 database on the test MariaDB server (see
 * {@link createPostgresDatabase}). Call `drop()` when done.
 */
export async function createMariadbDatabase(prefix: string): Promise<ThrowawayDatabase> {
  const name = throwawayName(prefix);
  await mariadbSql(mariadbUrl(), `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  const url = new URL(mariadbUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await mariadbSql(mariadbUrl(), `DROP DATABASE IF EXISTS \`${name}\``);
    },
  };
}
