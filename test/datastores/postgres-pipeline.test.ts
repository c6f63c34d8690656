/**
 * The PostgreSQL sandbox's pipelined restore (pre-data + data from the growing spool file,
 * then post-data -j from the complete one): every section arrives, and a failure of either the
 * fetch or the load stops the other and leaves nothing behind.
 */
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ShipError, isShipError } from '../../src/core/index.js';
import {
  postgresDriver,
  repositoryReader,
  repositorySink,
  type SnapshotReader,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend } from '../../src/repo/index.js';
import { createPostgresDatabase } from '../helpers/services.js';

import { FAST, PASSWORD } from './conformance.js';

const SOURCE = `
  CREATE TABLE parent (id int PRIMARY KEY, v text);
  CREATE TABLE child (id serial PRIMARY KEY, parent int REFERENCES parent (id), n int CHECK (n > 0));
  CREATE INDEX child_n ON child (n);
  INSERT INTO parent SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
  INSERT INTO child (parent, n) SELECT g, g FROM generate_series(1, 2000) g;
  CREATE MATERIALIZED VIEW parent_count AS SELECT count(*) AS n FROM parent;
  SELECT lo_from_bytea(0, '\\xdeadbeef'::bytea);
`;

/** What the post-data section builds, and what the data section loads besides rows. */
const SHAPE = `
  SELECT
    (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
    (SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace) AS constraints,
    (SELECT n::text FROM parent_count) AS matview,
    (SELECT last_value::text FROM child_id_seq) AS sequence,
    (SELECT count(*)::text FROM pg_largeobject_metadata) AS large_objects`;

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** `reader` with its stream replaced. */
function withStream(reader: SnapshotReader, stream: (out: Writable) => Promise<void>) {
  return {
    snapshot: reader.snapshot,
    tree: (dir, options) => reader.tree(dir, options),
    stream,
  } satisfies SnapshotReader;
}

/** Resolves when `out` drains, rejects once it is destroyed (the restore stopped). */
function writable(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) {
      reject(out.errored ?? new Error('destroyed'));
      return;
    }
    const onDrain = () => {
      out.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      out.off('drain', onDrain);
      reject(out.errored ?? new Error('closed'));
    };
    out.once('drain', onDrain);
    out.once('close', onClose);
  });
}

let workDir: string;
let spoolDir: string;
let previousTmpdir: string | undefined;
let sourceUrl: string;
let dropSource: () => Promise<void>;
let repo: Repository;
let reader: SnapshotReader;
let archive: Buffer;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'shipshape-pg-pipeline-'));
  // As root, the sandbox runs as the postgres user, who must reach its directory.
  await chmod(workDir, 0o711);
  // The spool file goes to os.tmpdir(): a directory of this file's own shows what is left.
  spoolDir = join(workDir, 'tmp');
  await mkdir(spoolDir);
  previousTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = spoolDir;
  const db = await createPostgresDatabase('ds_pg_pipe');
  sourceUrl = db.url;
  dropSource = db.drop;
  await query(sourceUrl, SOURCE);
  repo = await Repository.init(openFsBackend(join(workDir, 'repo')), PASSWORD, FAST);
  await postgresDriver.backup(
    { name: 'orders', connection: sourceUrl },
    repositorySink(repo, { name: 'orders', kind: 'postgres' }),
  );
  reader = await repositoryReader(repo, 'latest');
  const parts: Buffer[] = [];
  await reader.stream(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        parts.push(chunk);
        callback();
      },
    }),
  );
  archive = Buffer.concat(parts);
});

afterAll(async () => {
  if (previousTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmpdir;
  await repo.close();
  await dropSource();
  await rm(workDir, { recursive: true, force: true });
});

describe('postgres sandbox restore pipeline', () => {
  it('restores every section: indexes, constraints, matview data, sequences, large objects', async () => {
    const sandbox = await postgresDriver.sandbox(reader, { baseDir: workDir });
    try {
      const [restored] = await query(sandbox.target.connection, SHAPE);
      const [source] = await query(sourceUrl, SHAPE);
      expect(restored).toEqual(source);
      expect(restored).toMatchObject({ matview: '2000', sequence: '2000', large_objects: '1' });
      expect(await readdir(spoolDir)).toEqual([]);
    } finally {
      await sandbox.stop();
    }
  });

  it('a fetch that fails midway fails with the repository error; no spool, no sandbox left', async () => {
    const corrupt = new ShipError('SHIP_REPO_CORRUPT', 'snapshot: chunk 7 does not match its id');
    const failing = withStream(reader, async (out) => {
      out.write(archive.subarray(0, Math.floor(archive.length / 2)));
      await new Promise((resolve) => setImmediate(resolve));
      throw corrupt;
    });
    const base = join(workDir, 'fetch-fails');
    const error = await postgresDriver.sandbox(failing, { baseDir: base }).catch((e: unknown) => e);
    expect(error).toBe(corrupt);
    expect(await readdir(spoolDir)).toEqual([]);
    expect(await readdir(base)).toEqual([]);
  });

  it('a pg_restore failure stops a fetch that would never end and is a tool error', async () => {
    // Not an archive, and never finished: only the restore stopping the fetch ends this stream.
    const endless = withStream(reader, async (out) => {
      out.write(Buffer.alloc(1024 * 1024, 'not a pg_dump archive '));
      for (;;) await writable(out);
    });
    const base = join(workDir, 'load-fails');
    const error = await postgresDriver.sandbox(endless, { baseDir: base }).catch((e: unknown) => e);
    expect(isShipError(error) && error.code).toBe('SHIP_DATASTORE_TOOL_FAILED');
    expect((error as Error).message).toMatch(
      /^pg_restore \(PostgreSQL at .*\) exited with 1: .*archive/,
    );
    expect(await readdir(spoolDir)).toEqual([]);
    expect(await readdir(base)).toEqual([]);
  });
});
