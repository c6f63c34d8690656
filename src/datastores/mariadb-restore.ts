/** Restoring a mariadb-dump file into a database with the `mariadb` client. */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { isShipError } from '../core/index.js';

import type { RestoreOptions, SnapshotReader } from './driver.js';
import { targetNotEmpty, toolMissing, wrongSnapshot } from './errors.js';
import {
  connectionArgs,
  findMariadbTool,
  mariadbRequirement,
  mariadbToolError,
  passwordEnv,
  quoteIdent,
  runSql,
  type MariadbConnection,
  type MariadbTool,
} from './mariadb-client.js';
import { isSpawnEnoent, startChild } from './process.js';

/** Client programs, MariaDB's first. */
export const CLIENT_NAMES = ['mariadb', 'mysql'] as const;

export function checkRestorable(from: SnapshotReader): void {
  const { id, manifest } = from.snapshot;
  const kind = manifest.source.kind;
  if (kind !== undefined && kind !== 'mariadb' && kind !== 'mysql') {
    throw wrongSnapshot(id, `is a backup of a ${kind} data store, not mariadb/mysql`);
  }
  if (manifest.content.type !== 'stream')
    throw wrongSnapshot(id, 'holds a directory tree, not a mariadb-dump file');
}

/** What makes a database "not empty": tables and views, routines, events. */
const NON_EMPTY_SQL = `SELECT
  (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()),
  (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()),
  (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()),
  HEX(DEFAULT_CHARACTER_SET_NAME), HEX(DEFAULT_COLLATION_NAME)
  FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE();`;

/** Feeds a dump file to the client, connected to `conn`'s database. */
export async function loadDump(
  client: MariadbTool,
  conn: MariadbConnection,
  file: string,
): Promise<void> {
  const args = [
    ...connectionArgs(conn),
    `--database=${conn.database}`,
    '--default-character-set=utf8mb4',
    '--binary-mode',
    '--max-allowed-packet=1G',
  ];
  try {
    const running = startChild(client.path, args, { env: passwordEnv(conn), stdin: true });
    const stdin = running.stdin;
    if (stdin === null) throw new Error('client stdin is not piped');
    const feeding = pipeline(createReadStream(file), stdin).catch(() => undefined);
    const exit = await running.exited;
    await feeding;
    if (exit.code !== 0) throw mariadbToolError(client.name, exit, conn.location);
  } catch (error) {
    if (isShipError(error)) throw error;
    if (isSpawnEnoent(error)) throw toolMissing(mariadbRequirement('mariadb'), String(error));
    throw error;
  }
}

/**
 * Restores a snapshot into `conn`'s database. The snapshot is first copied to a private
 * temporary file, so a broken repository read never leaves a half-emptied target. With
 * `force`, a non-empty database is dropped and recreated with its character set and collation.
 */
export async function restoreInto(
  from: SnapshotReader,
  conn: MariadbConnection,
  options: RestoreOptions,
): Promise<void> {
  checkRestorable(from);
  const client = await findMariadbTool(CLIENT_NAMES);
  const [row] = await runSql(client, { conn }, NON_EMPTY_SQL);
  const [tables = 0, routines = 0, events = 0] = (row ?? []).slice(0, 3).map(Number);
  const found = Object.entries({ 'tables or views': tables, routines, events }).filter(
    ([, n]) => n > 0,
  );
  if (found.length > 0 && options.force !== true) {
    throw targetNotEmpty(conn.location, found.map(([what, n]) => `${n} ${what}`).join(', '));
  }
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-mariadb-restore-'));
  try {
    const file = join(dir, 'dump.sql');
    await from.stream(createWriteStream(file, { mode: 0o600 }));
    if (found.length > 0) {
      const charset = Buffer.from(row?.[3] ?? '', 'hex').toString('utf8');
      const collation = Buffer.from(row?.[4] ?? '', 'hex').toString('utf8');
      const db = quoteIdent(conn.database);
      await runSql(
        client,
        { conn },
        `DROP DATABASE ${db};
         CREATE DATABASE ${db}${/^\w+$/.test(charset) ? ` CHARACTER SET ${charset}` : ''}${/^\w+$/.test(collation) ? ` COLLATE ${collation}` : ''};`,
        'information_schema',
      );
    }
    await loadDump(client, conn, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
