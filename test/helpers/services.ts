/**
 * Where the real services started by `scripts/services.sh up` listen, for integration tests.
 * Each URL comes from its environment variable, else from the env file the script writes,
 * else from the script's defaults.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

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
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  const name = `t_${clean}_${process.pid}_${randomBytes(4).toString('hex')}`;
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
