import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

import { ShipError, isShipError } from '../core/index.js';
import type { ConsistentPoint } from '../repo/index.js';

import type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  Driver,
  Sandbox,
  SandboxOptions,
  SnapshotReader,
  Target,
} from './driver.js';
import { DatastoreErrorCode, targetNotEmpty, wrongSnapshot } from './errors.js';
import {
  fingerprintForManifest,
  makeFingerprint,
  type Fingerprint,
  type FingerprintEntry,
} from './fingerprint.js';
import {
  fileIdentity,
  fsError,
  pathFromConnection,
  statPath,
  writeFileAtomically,
} from './local-files.js';
import { localCopySandbox } from './sandbox-support.js';

const UINT64 = (1n << 64n) - 1n;

/** Maps a better-sqlite3 error to a data-store error code. */
function sqliteError(error: unknown, path: string, doing: string): ShipError {
  if (isShipError(error)) return error;
  const code = (error as { code?: string } | undefined)?.code ?? '';
  if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_PERM') || code === 'SQLITE_READONLY') {
    return fsError(Object.assign(new Error(String(error)), { code: 'EACCES' }), path, doing);
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return ShipError.runtime(
      DatastoreErrorCode.toolFailed,
      `${path} is not a readable SQLite database (${doing}): ${String(error)}`,
      {
        details: { path, code },
        hint: 'check that the connection points at the SQLite database file',
      },
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new ShipError(
      DatastoreErrorCode.toolFailed,
      `${path} stayed locked by another connection (${doing})`,
      {
        retryable: true,
        details: { path, code },
        hint: 'use WAL mode (`PRAGMA journal_mode=WAL`) so that backups never wait for writers',
      },
    );
  }
  return ShipError.runtime(
    DatastoreErrorCode.toolFailed,
    `${doing} ${path} failed: ${String(error)}`,
    {
      details: { path, code },
      cause: error,
    },
  );
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Canonical bytes of one row (types kept apart: 1, 1.0, '1' and x'31' all differ). */
function rowBytes(row: unknown[]): string {
  return JSON.stringify(
    row.map((value) => {
      if (value === null) return ['n'];
      if (typeof value === 'bigint') return ['i', value.toString()];
      if (typeof value === 'number') return ['r', value];
      if (Buffer.isBuffer(value)) return ['b', value.toString('hex')];
      return ['t', typeof value === 'string' ? value : JSON.stringify(value)];
    }),
  );
}

/**
 * Fingerprint of an open database: row counts per table (`counts`), and with `full` the sum
 * mod 2^64 of the first 64 bits of each row's SHA-256 (order-independent), computed in this
 * process. Runs inside whatever read transaction `db` has open.
 */
export function sqliteFingerprint(db: Database.Database, mode: 'counts' | 'full'): Fingerprint {
  const tables = db
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .all();
  const entries: Record<string, FingerprintEntry> = {};
  for (const { name } of tables) {
    const table = quoteIdent(name);
    if (mode === 'counts') {
      const row = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get();
      entries[name] = { rows: row?.n ?? 0 };
      continue;
    }
    let rows = 0;
    let sum = 0n;
    const select = db.prepare(`SELECT * FROM ${table}`).raw(true).safeIntegers(true);
    for (const row of select.iterate() as Iterable<unknown[]>) {
      rows++;
      sum = (sum + createHash('sha256').update(rowBytes(row)).digest().readBigUInt64BE(0)) & UINT64;
    }
    entries[name] = { rows, digest: sum.toString(16).padStart(16, '0') };
  }
  return makeFingerprint(mode, entries);
}

function openDatabase(path: string, readonly: boolean, doing: string): Database.Database {
  try {
    return new Database(path, { readonly, fileMustExist: true });
  } catch (error) {
    throw sqliteError(error, path, doing);
  }
}

async function backup(
  target: Target,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupOutcome> {
  const path = pathFromConnection(target.connection);
  await statPath(path, 'backing it up');
  const identity = await fileIdentity(path, 'file');
  const mode = options.fingerprint ?? 'counts';
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-sqlite-'));
  try {
    const copy = join(dir, 'backup.sqlite');
    const db = openDatabase(path, false, 'backing it up');
    let consistentPoint: ConsistentPoint;
    let sqliteVersion: string;
    try {
      // A read transaction pins one snapshot; the backup API reads inside it on this
      // connection, so writers (in WAL mode) go on while the copy is exactly that snapshot.
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      const at = new Date().toISOString();
      sqliteVersion =
        db.prepare<[], { v: string }>('SELECT sqlite_version() AS v').get()?.v ?? 'unknown';
      consistentPoint = { kind: 'time', value: at, sourceTime: at };
      await options.onConsistentPoint?.(consistentPoint);
      // One step copies every page while the transaction holds the snapshot.
      await db.backup(copy, { progress: () => 0x7fffffff });
      db.exec('COMMIT');
    } catch (error) {
      throw sqliteError(error, path, 'copying it with the online backup API');
    } finally {
      db.close();
    }
    let fingerprint: Fingerprint | undefined;
    if (mode !== 'off') {
      const copyDb = openDatabase(copy, true, 'fingerprinting the backup copy');
      try {
        fingerprint = sqliteFingerprint(copyDb, mode);
      } finally {
        copyDb.close();
      }
    }
    const toolVersions = { sqlite: sqliteVersion };
    const snapshot = await sink.stream(createReadStream(copy), {
      consistentPoint,
      toolVersions,
      ...(fingerprint === undefined ? {} : { fingerprints: fingerprintForManifest(fingerprint) }),
    });
    return {
      snapshot,
      consistentPoint,
      identity,
      fingerprint,
      toolVersions,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkRestorable(from: SnapshotReader): void {
  const { id, manifest } = from.snapshot;
  if (manifest.source.kind !== undefined && manifest.source.kind !== 'sqlite') {
    throw wrongSnapshot(id, `is a backup of a ${manifest.source.kind} data store, not sqlite`);
  }
  if (manifest.content.type !== 'stream')
    throw wrongSnapshot(id, 'holds a directory tree, not a database file');
}

async function restoreFile(from: SnapshotReader, path: string, force: boolean): Promise<void> {
  checkRestorable(from);
  const existing = await statPath(path, 'checking the restore target').catch((error: unknown) => {
    if (isShipError(error) && error.code === DatastoreErrorCode.notFound) return undefined;
    throw error;
  });
  if (existing !== undefined && existing.size > 0 && !force) {
    throw targetNotEmpty(path, `the file holds ${existing.size} bytes`);
  }
  await statPath(dirname(path), 'checking the restore target’s directory');
  try {
    await writeFileAtomically(path, (out) => from.stream(out));
    // A WAL left by the old database would be replayed into the new one.
    await rm(`${path}-wal`, { force: true });
    await rm(`${path}-shm`, { force: true });
    await rm(`${path}-journal`, { force: true });
  } catch (error) {
    if (isShipError(error)) throw error;
    throw fsError(error, path, 'restoring into');
  }
}

function fingerprint(target: Target, mode: 'counts' | 'full'): Fingerprint {
  const path = pathFromConnection(target.connection);
  const db = openDatabase(path, true, 'fingerprinting it');
  try {
    db.exec('BEGIN');
    try {
      return sqliteFingerprint(db, mode);
    } finally {
      db.exec('COMMIT');
    }
  } catch (error) {
    throw sqliteError(error, path, 'fingerprinting it');
  } finally {
    db.close();
  }
}

function sandbox(from: SnapshotReader, options: SandboxOptions = {}): Promise<Sandbox> {
  return localCopySandbox(from, options, 'sqlite', 'restored.sqlite', restoreFile);
}

/** SQLite: the online backup API inside one read transaction; fingerprint from the copy. */
export const sqliteDriver: Driver = {
  kind: 'sqlite',
  tools: () => [],
  identity: async (target) => {
    const path = pathFromConnection(target.connection);
    return { ...(await fileIdentity(path, 'file')) };
  },
  backup,
  restore: (from, target, options = {}) =>
    restoreFile(from, pathFromConnection(target.connection), options.force ?? false),
  fingerprint: (target, mode) => Promise.resolve().then(() => fingerprint(target, mode)),
  sandbox,
};
