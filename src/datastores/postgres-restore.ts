/**
 * Restoring a pg_dump archive with pg_restore: into a target (fetch, then load with -j), or as
 * a pipeline that loads while the archive is still being fetched (sandboxes).
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
import { findPgTools, type PgToolSet } from './postgres-tools.js';
import { startChild } from './process.js';

/** How far the fetch may run ahead of the spool file's writes. */
const SPOOL_BUFFER = 8 * 1024 * 1024;

/** Read size when following the spool file into pg_restore. */
const FOLLOW_BLOCK = 1024 * 1024;

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
  // It is complete before anything in the target is touched: a repository fault found late
  // must not leave a wiped or half-loaded target behind.
  const spool = await startSpool(from);
  try {
    await spool.done;
    if (nonEmpty) {
      await withClient(conn, 'emptying the restore target (--force)', (client) =>
        wipeDatabase(client),
      );
    }
    await runPgRestore(tools, conn, options.noOwner === true, [
      `--jobs=${options.jobs ?? 2}`,
      spool.file,
    ]);
  } finally {
    await spool.discard();
  }
}

/** Options of {@link restorePipelined}. */
export interface PipelinedRestoreOptions {
  /** pg_restore of the target server's major version or newer. */
  tools: PgToolSet;
  /** Parallel jobs of the post-data stage. @default 2 */
  jobs?: number;
  /** `--no-owner --no-privileges` (a sandbox has none of the source's roles). */
  noOwner?: boolean;
}

/**
 * Loads a spooling archive into an empty database while it is still being fetched, in two
 * stages: `pg_restore --section=pre-data --section=data` reads the spool file as it grows
 * (one job: -j cannot read a stream, and a table's data is one COPY anyway), then, once both
 * the fetch and that stage are done, `pg_restore --section=post-data -j N` builds indexes and
 * constraints in parallel from the complete file. Together the two sections are everything
 * the archive holds (large objects come in the data section). If the fetch or the load fails,
 * the other is stopped and the first failure is thrown: a repository error as it is, a
 * pg_restore failure mapped by {@link pgToolError}. What was loaded stays: only for databases
 * that are thrown away on failure (sandboxes).
 */
export async function restorePipelined(
  spool: Spool,
  conn: PgConnection,
  options: PipelinedRestoreOptions,
): Promise<void> {
  const noOwner = options.noOwner === true;
  const data = startChild(
    options.tools.path('pg_restore'),
    restoreArgs(conn, noOwner, ['--section=pre-data', '--section=data']),
    { env: passwordEnv(conn), stdin: true },
  );
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    data.kill();
    spool.abort();
  };
  const stdin = data.stdin;
  if (stdin === null) {
    data.kill();
    throw new Error('pg_restore stdin is not piped');
  }
  await Promise.all([
    spool.done.catch(fail),
    data.exited.then((exit) => {
      if (exit.code !== 0) fail(pgToolError('pg_restore', exit, conn.location));
    }, fail),
    // pg_restore may exit once it has the last data block, before the archive's end: the
    // broken pipe that follows is no error. Real failures surface through the two above.
    pipeline(Readable.from(spool.follow()), stdin).catch(() => undefined),
  ]);
  if (failure !== undefined) throw failure.error;
  await runPgRestore(options.tools, conn, noOwner, [
    '--section=post-data',
    `--jobs=${options.jobs ?? 2}`,
    spool.file,
  ]);
}

function restoreArgs(conn: PgConnection, noOwner: boolean, args: readonly string[]): string[] {
  return [
    `--dbname=${conn.urlWithoutPassword}`,
    '--exit-on-error',
    '--no-password',
    ...(noOwner ? ['--no-owner', '--no-privileges'] : []),
    ...args,
  ];
}

async function runPgRestore(
  tools: PgToolSet,
  conn: PgConnection,
  noOwner: boolean,
  args: readonly string[],
): Promise<void> {
  const running = startChild(tools.path('pg_restore'), restoreArgs(conn, noOwner, args), {
    env: passwordEnv(conn),
  });
  const exit = await running.exited;
  if (exit.code !== 0) throw pgToolError('pg_restore', exit, conn.location);
}

/** A stream snapshot being copied into a private temporary file, readable as it grows. */
export interface Spool {
  /** The file (complete once {@link Spool.done} resolves). */
  readonly file: string;
  /** Resolves when the whole snapshot is in the file; rejects with the fetch's error. */
  readonly done: Promise<void>;
  /** The file from its first byte, each byte once written; throws if the fetch fails. */
  follow(): AsyncGenerator<Buffer>;
  /** Stops the fetch if it still runs (`done` then rejects). */
  abort(): void;
  /** Stops the fetch, waits for it to settle and deletes the file. Safe to call twice. */
  discard(): Promise<void>;
}

/**
 * Starts copying `from`'s stream snapshot into a new temporary file (mode 0600). The copy runs
 * on its own, at the repository's pace; {@link Spool.follow} lets a reader keep up with it.
 */
export async function startSpool(from: SnapshotReader): Promise<Spool> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-pg-restore-'));
  const file = join(dir, 'dump');
  let handle: FileHandle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let written = 0;
  let outcome: { ok: true } | { ok: false; error: unknown } | undefined;
  const waiting = new Set<() => void>();
  const wake = () => {
    for (const resolve of waiting) resolve();
    waiting.clear();
  };
  const out = new Writable({
    highWaterMark: SPOOL_BUFFER,
    write(chunk: Buffer, _encoding, callback) {
      writeAll(handle, chunk, written).then(() => {
        written += chunk.length;
        wake();
        callback();
      }, callback);
    },
  });
  // abort() destroys `out` with an error; the fetch sees it on its next write, and the
  // emitted event must not crash the process.
  out.on('error', () => undefined);
  const done = (async () => {
    try {
      await from.stream(out);
      outcome = { ok: true };
    } catch (error) {
      outcome = { ok: false, error };
      throw error;
    } finally {
      wake();
      await handle.close().catch(() => undefined);
    }
  })();
  // Consumers await `done` later (after starting a server, say); a fetch that fails first
  // must not be an unhandled rejection meanwhile.
  done.catch(() => undefined);
  const abort = () => {
    if (!out.destroyed) out.destroy(new Error('the restore stopped before the fetch finished'));
  };
  async function* follow(): AsyncGenerator<Buffer> {
    const reader = await open(file, 'r');
    try {
      let position = 0;
      for (;;) {
        if (outcome?.ok === false) throw outcome.error;
        if (position < written) {
          const block = Buffer.allocUnsafe(Math.min(FOLLOW_BLOCK, written - position));
          const { bytesRead } = await reader.read(block, 0, block.length, position);
          position += bytesRead;
          yield block.subarray(0, bytesRead);
        } else if (outcome?.ok === true) {
          return;
        } else {
          // Checked and registered in one turn: a write landing in between cannot be missed.
          await new Promise<void>((resolve) => waiting.add(resolve));
        }
      }
    } finally {
      await reader.close();
    }
  }
  return {
    file,
    done,
    follow,
    abort,
    discard: async () => {
      abort();
      await done.catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function writeAll(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(
      chunk,
      offset,
      chunk.length - offset,
      position + offset,
    );
    offset += bytesWritten;
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
