/** Restoring a pg_dump archive into a database with pg_restore -j. */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';

import type { RestoreOptions, SnapshotReader } from './driver.js';
import { targetNotEmpty, wrongSnapshot } from './errors.js';
import {
  passwordEnv,
  pgToolError,
  quoteIdent,
  serverVersion,
  withClient,
} from './postgres-client.js';
import type { PgConnection } from './postgres-connection.js';
import { findPgTools } from './postgres-tools.js';
import { startChild } from './process.js';

/** Objects that make a database "not empty" for a restore. */
const NON_EMPTY_SQL = `
  SELECT
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%')::int AS relations,
    (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))::int AS functions,
    (SELECT count(*) FROM pg_namespace n
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
        AND n.nspname NOT LIKE 'pg\\_%')::int AS schemas,
    (SELECT count(*) FROM pg_largeobject_metadata)::int AS large_objects`;

export function checkRestorable(from: SnapshotReader): void {
  const { id, manifest } = from.snapshot;
  if (manifest.source.kind !== undefined && manifest.source.kind !== 'postgres') {
    throw wrongSnapshot(id, `is a backup of a ${manifest.source.kind} data store, not postgres`);
  }
  if (manifest.content.type !== 'stream')
    throw wrongSnapshot(id, 'holds a directory tree, not a pg_dump archive');
}

export async function restoreInto(
  from: SnapshotReader,
  conn: PgConnection,
  options: RestoreOptions & { noOwner?: boolean },
): Promise<void> {
  checkRestorable(from);
  const { major, nonEmpty } = await withClient(
    conn,
    'checking the restore target',
    async (client) => {
      const counts = await client.query<Record<string, number>>(NON_EMPTY_SQL);
      const row = counts.rows[0] ?? {};
      const found = Object.entries(row).filter(([, n]) => n > 0);
      if (found.length > 0 && options.force !== true) {
        throw targetNotEmpty(
          conn.location,
          found.map(([what, n]) => `${n} ${what.replace('_', ' ')}`).join(', '),
        );
      }
      return { major: (await serverVersion(client)).major, nonEmpty: found.length > 0 };
    },
  );
  const tools = await findPgTools(major);
  // pg_restore -j needs a seekable file; the archive is uncompressed, so this is a plain copy.
  // It is complete before anything in the target is touched.
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-pg-restore-'));
  try {
    const file = join(dir, 'dump');
    const out = createWriteStream(file, { mode: 0o600 });
    await from.stream(out);
    if (nonEmpty) {
      await withClient(conn, 'emptying the restore target (--force)', (client) =>
        wipeDatabase(client),
      );
    }
    const args = [
      `--dbname=${conn.urlWithoutPassword}`,
      `--jobs=${options.jobs ?? 2}`,
      '--exit-on-error',
      '--no-password',
      ...(options.noOwner === true ? ['--no-owner', '--no-privileges'] : []),
      file,
    ];
    const running = startChild(tools.path('pg_restore'), args, { env: passwordEnv(conn) });
    const exit = await running.exited;
    if (exit.code !== 0) throw pgToolError('pg_restore', exit, conn.location);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Empties a database for a forced restore, in one transaction: every large object, every
 * user schema, and the public schema recreated as PostgreSQL 15 creates it. What the dump
 * holds is then restored into a database with nothing else in it.
 */
async function wipeDatabase(client: pg.Client): Promise<void> {
  const schemas = await client.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'`,
  );
  await client.query('BEGIN');
  try {
    await client.query('SELECT lo_unlink(oid) FROM pg_largeobject_metadata');
    for (const { name } of schemas.rows)
      await client.query(`DROP SCHEMA ${quoteIdent(name)} CASCADE`);
    await client.query('CREATE SCHEMA public AUTHORIZATION pg_database_owner');
    await client.query('GRANT USAGE ON SCHEMA public TO PUBLIC');
    await client.query("COMMENT ON SCHEMA public IS 'standard public schema'");
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
