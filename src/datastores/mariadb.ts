/**
 * MariaDB and MySQL: `mariadb-dump --single-transaction` spooled to a private file, the
 * fingerprint taken from that very dump (loaded into a throwaway server), then stored.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

import { isShipError } from '../core/index.js';
import type { ConsistentPoint } from '../repo/index.js';

import type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  Driver,
  ServerIdentity,
  Target,
} from './driver.js';
import { toolMissing } from './errors.js';
import {
  fingerprintForManifest,
  makeFingerprint,
  type Fingerprint,
  type FingerprintEntry,
} from './fingerprint.js';
import {
  connectionArgs,
  findMariadbTool,
  mariadbRequirement,
  mariadbToolError,
  parseMariadbConnection,
  passwordEnv,
  quoteIdent,
  runSql,
  unhex,
  type MariadbConnection,
  type MariadbTool,
} from './mariadb-client.js';
import { CLIENT_NAMES, loadDump, restoreInto } from './mariadb-restore.js';
import { sandbox, startServer } from './mariadb-sandbox.js';
import { isSpawnEnoent, startChild } from './process.js';

/** Dump programs, MariaDB's first. */
export const DUMP_NAMES = ['mariadb-dump', 'mysqldump'] as const;

/**
 * Lines mariadb-dump writes only after it has opened its consistent snapshot (the header before
 * them is written earlier). The first one seen fixes the consistent point.
 */
const AFTER_SNAPSHOT_MARKERS = [
  '\n-- Table structure for table',
  '\n-- Dumping events',
  '\n-- Dumping routines',
  '\n-- Dump completed',
  'CHANGE MASTER TO',
  'CHANGE REPLICATION SOURCE TO',
];

/** The last line of a dump that ran to its end (mariadb-dump writes it unless --skip-comments). */
const COMPLETED = '-- Dump completed';

/** The end of a dump kept for the completion line and the deferred GTID position. */
const TAIL_KEEP = 8192;

/** Keep at most this much of the dump's beginning while looking for the binlog position. */
const HEAD_KEEP = 1024 * 1024;

/** Base tables of the connection's database, with their columns in order (names as HEX). */
const TABLES_SQL = `SET SESSION group_concat_max_len = 67108864;
SELECT HEX(c.TABLE_NAME),
       GROUP_CONCAT(HEX(c.COLUMN_NAME) ORDER BY c.ORDINAL_POSITION SEPARATOR ',')
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
GROUP BY c.TABLE_NAME;`;

/**
 * One row's hash, as an unsigned 64-bit number: the first 16 hex digits of MD5 over every
 * column's bytes in hex (`N` for NULL, which hex never produces), comma-separated.
 */
function rowHash(columns: readonly string[]): string {
  const parts = columns.map((column) => `IFNULL(HEX(CAST(${quoteIdent(column)} AS BINARY)),'N')`);
  return `CAST(CONV(LEFT(MD5(CONCAT_WS(',', ${parts.join(', ')})), 16), 16, 10) AS UNSIGNED)`;
}

/**
 * Fingerprint of `conn`'s database. `counts`: COUNT(*) per base table. `full`: also the SUM
 * (exact DECIMAL, so duplicate rows do not cancel as with XOR) of every row's hash. Timestamps
 * read in UTC. One client run, one UNION ALL over every table.
 */
export async function fingerprintDatabase(
  client: MariadbTool,
  conn: MariadbConnection,
  mode: 'counts' | 'full',
): Promise<Fingerprint> {
  const tables = await runSql(client, { conn }, TABLES_SQL);
  const entries: Record<string, FingerprintEntry> = {};
  if (tables.length > 0) {
    const db = quoteIdent(conn.database);
    const selects = tables.map(([hexName = '', hexColumns = '']) => {
      const name = unhex(hexName);
      const columns = hexColumns.split(',').map(unhex);
      const digest = mode === 'full' ? `COALESCE(SUM(${rowHash(columns)}), 0)` : '0';
      return `SELECT '${hexName}', COUNT(*), ${digest} FROM ${db}.${quoteIdent(name)}`;
    });
    const rows = await runSql(
      client,
      { conn },
      `SET time_zone = '+00:00';\n${selects.join('\nUNION ALL\n')};`,
    );
    for (const [hexName, count, digest] of rows) {
      entries[unhex(hexName)] = {
        rows: Number(count ?? 0),
        ...(mode === 'full' ? { digest: digest ?? '0' } : {}),
      };
    }
  }
  return makeFingerprint(mode, entries);
}

/** Server facts read before a backup; also proves the connection and credentials work. */
interface ServerInfo {
  readonly identity: ServerIdentity;
  readonly version: string;
  readonly mariadb: boolean;
  readonly logBin: boolean;
  /** The server's clock (UTC), ISO 8601. */
  readonly now: string;
}

async function serverInfo(client: MariadbTool, conn: MariadbConnection): Promise<ServerInfo> {
  const [row = []] = await runSql(
    client,
    { conn },
    `SELECT HEX(@@version), @@log_bin, HEX(@@hostname), @@port, HEX(@@datadir), @@server_id,
            DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ');`,
  );
  const version = unhex(row[0]);
  const mariadb = /mariadb/i.test(version);
  let identity: ServerIdentity;
  if (mariadb) {
    // MariaDB has no server UUID: host, port, data directory and server id name the instance.
    identity = {
      kind: 'mariadb-instance',
      id: `${unhex(row[2])}:${row[3] ?? ''}:${unhex(row[4])}#${row[5] ?? ''}`,
      version,
      location: conn.location,
    };
  } else {
    const [uuid = []] = await runSql(client, { conn }, 'SELECT @@server_uuid;');
    identity = {
      kind: 'mysql-server-uuid',
      id: uuid[0] ?? 'unknown',
      version,
      location: conn.location,
    };
  }
  return {
    identity,
    version,
    mariadb,
    logBin: row[1] === '1',
    now: new Date(row[6] ?? Date.now()).toISOString(),
  };
}

/** mariadb-dump's options; docs/datastores/mariadb.md explains each. */
export function dumpArgs(
  dump: Pick<MariadbTool, 'mariadb' | 'version'>,
  conn: MariadbConnection,
  logBin: boolean,
): string[] {
  const mysqlMajor = dump.mariadb ? 0 : Number(dump.version.split('.')[0]);
  const position = !logBin
    ? []
    : dump.mariadb
      ? ['--master-data=2', '--gtid']
      : [mysqlMajor >= 8 ? '--source-data=2' : '--master-data=2'];
  return [
    ...connectionArgs(conn),
    '--single-transaction',
    '--quick',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    '--no-tablespaces',
    '--max-allowed-packet=1G',
    ...position,
    ...(mysqlMajor >= 8 ? ['--column-statistics=0', '--set-gtid-purged=OFF'] : []),
    conn.database,
  ];
}

/**
 * `-- CHANGE MASTER TO MASTER_LOG_FILE='b.000001', MASTER_LOG_POS=42;` → `b.000001:42`, plus
 * ` gtid=0-1-5` from `SET GLOBAL gtid_slave_pos='0-1-5'`, which mariadb-dump writes at the end
 * of the dump (pass the dump's tail as `end`).
 */
export function binlogPosition(head: string, end = ''): string | undefined {
  const file = /(?:MASTER|SOURCE)_LOG_FILE='([^']+)',\s*(?:MASTER|SOURCE)_LOG_POS=(\d+)/.exec(head);
  if (file === null) return undefined;
  const gtid = /gtid_slave_pos='([^']*)'/i.exec(`${head}\n${end}`)?.[1];
  return `${file[1]}:${file[2]}${gtid === undefined || gtid === '' ? '' : ` gtid=${gtid}`}`;
}

/**
 * Runs the dump into `file` (mode 0600). Calls `onPoint` once the dump has opened its snapshot
 * (while the dump waits), and throws unless the dump exits 0 and ends with its completion line.
 */
async function spoolDump(
  dump: MariadbTool,
  conn: MariadbConnection,
  args: readonly string[],
  file: string,
  onPoint: (head: string) => Promise<void>,
): Promise<{ head: string; tail: string }> {
  const out = createWriteStream(file, { mode: 0o600 });
  const running = startChild(dump.path, args, { env: passwordEnv(conn), stdoutStream: true });
  let head = '';
  let tail = '';
  let pointFixed = false;
  let complete = false;
  try {
    for await (const chunk of running.stdout) {
      const buffer = chunk as Buffer;
      const text = buffer.toString('latin1');
      if (!pointFixed) {
        head = (head + text).slice(0, HEAD_KEEP);
        const seen = tail + text;
        if (
          AFTER_SNAPSHOT_MARKERS.some((marker) => seen.includes(marker) || head.includes(marker))
        ) {
          pointFixed = true;
          await onPoint(head);
        }
      }
      tail = (tail + text).slice(-TAIL_KEEP);
      if (!out.write(buffer)) await once(out, 'drain');
    }
    const exit = await running.exited;
    if (exit.code !== 0) throw mariadbToolError(dump.name, exit, conn.location);
    if (!tail.trimEnd().split('\n').pop()?.startsWith(COMPLETED)) {
      throw mariadbToolError(
        dump.name,
        { ...exit, stderr: `${exit.stderr} (the dump does not end with "${COMPLETED}")`.trim() },
        conn.location,
      );
    }
    if (!pointFixed) await onPoint(head);
    complete = true;
    return { head, tail };
  } catch (error) {
    if (!isShipError(error) && isSpawnEnoent(error))
      throw toolMissing(mariadbRequirement(dump.name), String(error));
    throw error;
  } finally {
    if (!complete) running.kill();
    out.end();
    await once(out, 'close').catch(() => undefined);
  }
}

/** Loads the dump into a throwaway server and fingerprints it there. */
async function fingerprintDump(file: string, mode: 'counts' | 'full'): Promise<Fingerprint> {
  const server = await startServer();
  try {
    await loadDump(server.client, server.conn, file);
    return await fingerprintDatabase(server.client, server.conn, mode);
  } finally {
    await server.stop();
  }
}

async function backup(
  target: Target,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupOutcome> {
  const conn = parseMariadbConnection(target.connection);
  const mode = options.fingerprint ?? 'counts';
  const client = await findMariadbTool(CLIENT_NAMES);
  const dump = await findMariadbTool(DUMP_NAMES);
  const info = await serverInfo(client, conn);
  const flavour = info.mariadb ? 'mariadb' : 'mysql';
  let consistentPoint: ConsistentPoint = {
    kind: `${flavour}-snapshot-time`,
    value: info.now,
    sourceTime: info.now,
  };
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-mariadb-dump-'));
  try {
    const file = join(dir, 'dump.sql');
    const args = dumpArgs(dump, conn, info.logBin);
    // The hook sees the file and offset; the GTID, written at the dump's end, joins them after.
    const { head, tail } = await spoolDump(dump, conn, args, file, async (start) => {
      const position = binlogPosition(start);
      if (position !== undefined)
        consistentPoint = { kind: `${flavour}-binlog`, value: position, sourceTime: info.now };
      await options.onConsistentPoint?.(consistentPoint);
    });
    const position = binlogPosition(head, tail);
    if (position !== undefined)
      consistentPoint = { kind: `${flavour}-binlog`, value: position, sourceTime: info.now };
    const fingerprint = mode === 'off' ? undefined : await fingerprintDump(file, mode);
    const toolVersions = { [dump.name]: dump.version, [flavour]: info.version };
    const snapshot = await sink.stream(createReadStream(file), {
      consistentPoint,
      toolVersions,
      ...(fingerprint === undefined ? {} : { fingerprints: fingerprintForManifest(fingerprint) }),
    });
    return { snapshot, consistentPoint, identity: info.identity, fingerprint, toolVersions };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function driverFor(kind: 'mariadb' | 'mysql'): Driver {
  return {
    kind,
    tools: () => [
      mariadbRequirement('mariadb-dump'),
      mariadbRequirement('mariadb'),
      mariadbRequirement('mariadb-install-db'),
      mariadbRequirement('mariadbd'),
    ],
    identity: async (target) => {
      const conn = parseMariadbConnection(target.connection);
      return (await serverInfo(await findMariadbTool(CLIENT_NAMES), conn)).identity;
    },
    backup,
    restore: (from, target, options = {}) =>
      restoreInto(from, parseMariadbConnection(target.connection), options),
    fingerprint: async (target, mode) =>
      fingerprintDatabase(
        await findMariadbTool(CLIENT_NAMES),
        parseMariadbConnection(target.connection),
        mode,
      ),
    sandbox,
  };
}

/** MariaDB: mariadb-dump in one InnoDB snapshot; fingerprint from the dump itself. */
export const mariadbDriver: Driver = driverFor('mariadb');
/** MySQL through the same programs (see docs/datastores/mariadb.md for what is untested). */
export const mysqlDriver: Driver = driverFor('mysql');
