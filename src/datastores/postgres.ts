import type pg from 'pg';

import type { ConsistentPoint } from '../repo/index.js';

import type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  Driver,
  ServerIdentity,
  Target,
} from './driver.js';
import {
  fingerprintForManifest,
  makeFingerprint,
  type Fingerprint,
  type FingerprintEntry,
} from './fingerprint.js';
import {
  connect,
  passwordEnv,
  pgError,
  pgToolError,
  quoteIdent,
  serverVersion,
  withClient,
} from './postgres-client.js';
import { parsePgConnection, type PgConnection } from './postgres-connection.js';
import { restoreInto } from './postgres-restore.js';
import { sandbox } from './postgres-sandbox.js';
import { findPgTools, pgClientRequirement, pgServerRequirement } from './postgres-tools.js';
import { isSpawnEnoent, startChild, type RunningChild } from './process.js';

/**
 * Session settings under which a row's text form is the same on every server: the `full`
 * fingerprint hashes `row::text`, so dates, floats and bytea must print alike everywhere.
 */
const CANONICAL_SETTINGS = [
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'postgres'",
  "SET LOCAL TimeZone = 'UTC'",
  'SET LOCAL extra_float_digits = 1',
  "SET LOCAL bytea_output = 'hex'",
];

/** User tables: ordinary and partition leaves (partitioned parents hold no rows of their own). */
const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

/** Name of the fingerprint entry that covers large objects. */
export const LARGE_OBJECTS_ENTRY = 'pg_largeobject';

async function queryIdentity(client: pg.Client, conn: PgConnection): Promise<ServerIdentity> {
  const { version } = await serverVersion(client);
  const { rows } = await client.query<{ id: string }>(
    'SELECT system_identifier::text AS id FROM pg_control_system()',
  );
  return {
    kind: 'postgres-system-identifier',
    id: rows[0]?.id ?? 'unknown',
    version,
    location: conn.location,
  };
}

/**
 * Fingerprint of what `client` sees: must run inside the transaction whose snapshot the dump
 * uses. `counts`: one `count(*)` per table. `full`: also an order-independent sum of the first
 * 64 bits of md5(row::text) per table, and of every large object's content.
 */
async function fingerprintIn(client: pg.Client, mode: 'counts' | 'full'): Promise<Fingerprint> {
  for (const setting of CANONICAL_SETTINGS) await client.query(setting);
  const tables = await client.query<{ schema: string; name: string }>(TABLES_SQL);
  const entries: Record<string, FingerprintEntry> = {};
  for (const { schema, name } of tables.rows) {
    const relation = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    const sql =
      mode === 'counts'
        ? `SELECT count(*)::text AS rows FROM ONLY ${relation}`
        : `SELECT count(*)::text AS rows,
             coalesce(sum(('x' || substr(md5("ship$row"::text), 1, 16))::bit(64)::bigint), 0)::text AS digest
           FROM ONLY ${relation} AS "ship$row"`;
    const { rows } = await client.query<{ rows: string; digest?: string }>(sql);
    const row = rows[0];
    entries[`${schema}.${name}`] = {
      rows: Number(row?.rows ?? 0),
      ...(mode === 'full' ? { digest: row?.digest ?? '0' } : {}),
    };
  }
  const lo =
    mode === 'counts'
      ? 'SELECT count(*)::text AS rows FROM pg_largeobject_metadata'
      : `SELECT count(*)::text AS rows,
           coalesce(sum(('x' || substr(md5(oid::text || ':' || md5(lo_get(oid))), 1, 16))::bit(64)::bigint), 0)::text AS digest
         FROM pg_largeobject_metadata`;
  const { rows } = await client.query<{ rows: string; digest?: string }>(lo);
  const count = Number(rows[0]?.rows ?? 0);
  if (count > 0) {
    entries[LARGE_OBJECTS_ENTRY] = {
      rows: count,
      ...(mode === 'full' ? { digest: rows[0]?.digest ?? '0' } : {}),
    };
  }
  return makeFingerprint(mode, entries);
}

/** The dump as a byte stream; throws after the last byte if pg_dump failed (so no snapshot). */
async function* dumpStream(running: RunningChild, location: string): AsyncGenerator<Uint8Array> {
  let complete = false;
  let bytes = 0;
  try {
    for await (const chunk of running.stdout) {
      bytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    const exit = await running.exited;
    if (exit.code !== 0) throw pgToolError('pg_dump', exit, location);
    // Every custom-format archive starts with a header; nothing at all is never a backup.
    if (bytes === 0) throw pgToolError('pg_dump', { ...exit, stderr: 'no output' }, location);
    complete = true;
  } catch (error) {
    if (isSpawnEnoent(error))
      throw pgToolError('pg_dump', { code: null, signal: null, stderr: String(error) }, location);
    throw error;
  } finally {
    if (!complete) running.kill();
  }
}

async function backup(
  target: Target,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupOutcome> {
  const conn = parsePgConnection(target.connection);
  const mode = options.fingerprint ?? 'counts';
  const client = await connect(conn, 'starting the backup');
  let running: RunningChild | undefined;
  try {
    const identity = await queryIdentity(client, conn).catch((error: unknown) => {
      throw pgError(error, conn.location, 'reading the server identity');
    });
    const server = await serverVersion(client);
    const tools = await findPgTools(server.major);
    let snapshotId: string;
    let consistentPoint: ConsistentPoint;
    let fingerprint: Fingerprint | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ snapshot: string; at: Date; lsn: string }>(
        `SELECT pg_export_snapshot() AS snapshot, statement_timestamp() AS at,
           (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn`,
      );
      const row = rows[0];
      if (row === undefined) throw new Error('pg_export_snapshot returned no row');
      snapshotId = row.snapshot;
      consistentPoint = { kind: 'postgres-lsn', value: row.lsn, sourceTime: row.at.toISOString() };
      fingerprint = mode === 'off' ? undefined : await fingerprintIn(client, mode);
    } catch (error) {
      throw pgError(error, conn.location, 'opening the backup snapshot');
    }
    await options.onConsistentPoint?.(consistentPoint);
    const toolVersions = { pg_dump: tools.version, postgres: server.version };
    running = startChild(
      tools.path('pg_dump'),
      [
        `--dbname=${conn.urlWithoutPassword}`,
        '--format=custom',
        '--compress=0',
        `--snapshot=${snapshotId}`,
        '--no-password',
      ],
      { env: passwordEnv(conn), stdoutStream: true },
    );
    const snapshot = await sink.stream(dumpStream(running, conn.location), {
      consistentPoint,
      toolVersions,
      ...(fingerprint === undefined ? {} : { fingerprints: fingerprintForManifest(fingerprint) }),
    });
    return { snapshot, consistentPoint, identity, fingerprint, toolVersions };
  } finally {
    running?.kill();
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

async function fingerprint(target: Target, mode: 'counts' | 'full'): Promise<Fingerprint> {
  const conn = parsePgConnection(target.connection);
  return withClient(conn, 'computing the fingerprint', async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      return await fingerprintIn(client, mode);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  });
}

/** PostgreSQL: pg_dump -Fc -Z0 under an exported snapshot, fingerprint in the same snapshot. */
export const postgresDriver: Driver = {
  kind: 'postgres',
  tools: () => [
    pgClientRequirement('pg_dump', 15),
    pgClientRequirement('pg_restore', 15),
    pgServerRequirement('initdb', 15),
    pgServerRequirement('pg_ctl', 15),
  ],
  identity: (target) => {
    const conn = parsePgConnection(target.connection);
    return withClient(conn, 'reading the server identity', (client) => queryIdentity(client, conn));
  },
  backup,
  restore: (from, target, options = {}) =>
    restoreInto(from, parsePgConnection(target.connection), options),
  fingerprint,
  sandbox,
};
