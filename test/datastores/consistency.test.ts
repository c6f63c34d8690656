/**
 * Consistency under writes: a writer commits rows continuously while a backup runs. The backup
 * must hold exactly the rows committed before its consistent point — a contiguous prefix of the
 * writer's rows — and the restored fingerprint must equal the fingerprint at that point, not the
 * final state. Deterministic: the backup's `onConsistentPoint` hook waits (on a latch, not a
 * timer) until the writer has committed more rows after the point.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

import {
  compareFingerprints,
  fingerprintFromManifest,
  postgresDriver,
  repositoryReader,
  repositorySink,
  sqliteDriver,
  type Driver,
  type Target,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend } from '../../src/repo/index.js';
import { createPostgresDatabase } from '../helpers/services.js';

import { FAST, PASSWORD } from './conformance.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A writer committing one row per step until stopped; `reached(n)` resolves at n commits. */
class Writer {
  committed = 0;
  #stop = false;
  #waiters: { n: number; resolve: () => void }[] = [];
  #done: Promise<void> | undefined;

  constructor(private readonly insert: (n: number) => Promise<void>) {}

  start(): void {
    this.#done = (async () => {
      while (!this.#stop) {
        await this.insert(this.committed + 1);
        this.committed++;
        for (const waiter of this.#waiters.filter((w) => this.committed >= w.n)) waiter.resolve();
        this.#waiters = this.#waiters.filter((w) => this.committed < w.n);
      }
    })();
  }

  reached(n: number): Promise<void> {
    if (this.committed >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  async stop(): Promise<number> {
    this.#stop = true;
    await this.#done;
    return this.committed;
  }
}

async function consistencyCase(options: {
  driver: Driver;
  source: Target;
  restoreTarget: Target;
  writer: Writer;
  rowsOf: (target: Target) => Promise<number[]>;
}): Promise<void> {
  const { driver, source, restoreTarget, writer, rowsOf } = options;
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-consistency-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const repo = await Repository.init(openFsBackend(join(dir, 'repo')), PASSWORD, FAST);
  cleanups.push(() => repo.close());

  writer.start();
  await writer.reached(25);
  const committedBeforeBackup = writer.committed;
  let committedAtPoint = -1;
  const outcome = await driver.backup(
    source,
    repositorySink(repo, { name: source.name, kind: driver.kind }),
    {
      fingerprint: 'full',
      onConsistentPoint: async () => {
        committedAtPoint = writer.committed;
        // The writer must commit rows after the point while the backup is still running.
        await writer.reached(committedAtPoint + 25);
      },
    },
  );
  const committedAfterBackup = await writer.stop();

  const reader = await repositoryReader(repo, outcome.snapshot.snapshotId);
  await driver.restore(reader, restoreTarget);
  const restoredRows = await rowsOf(restoreTarget);

  // Rows committed before the point are there, rows committed after it are not.
  expect(restoredRows.length).toBeGreaterThanOrEqual(committedBeforeBackup);
  expect(restoredRows.length).toBeLessThanOrEqual(committedAtPoint);
  expect(committedAfterBackup).toBeGreaterThanOrEqual(committedAtPoint + 25);
  // A contiguous prefix: no row missing in the middle, none from after the point.
  expect(restoredRows).toEqual(Array.from({ length: restoredRows.length }, (_, i) => i + 1));

  const atPoint = fingerprintFromManifest(reader.snapshot.manifest.fingerprints)!;
  expect(atPoint.entries['ticks']?.rows ?? atPoint.entries['public.ticks']?.rows).toBe(
    restoredRows.length,
  );
  const restored = await driver.fingerprint(restoreTarget, 'full');
  expect(compareFingerprints(atPoint, restored).equal).toBe(true);
  const final = await driver.fingerprint(source, 'full');
  const diff = compareFingerprints(atPoint, final);
  expect(diff.equal).toBe(false);
  expect(diff.changed).toEqual([expect.stringMatching(/ticks$/)]);
}

describe('consistency under writes', () => {
  it('postgres: the dump and its fingerprint are the exported snapshot, not the final state', async () => {
    const source = await createPostgresDatabase('ds_consistency');
    cleanups.push(source.drop);
    const restored = await createPostgresDatabase('ds_consistency_restored');
    cleanups.push(restored.drop);
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    cleanups.push(() => client.end());
    await client.query(
      'CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())',
    );
    await client.query(
      'CREATE TABLE steady (id int); INSERT INTO steady SELECT generate_series(1, 100)',
    );
    const writer = new Writer(async (n) => {
      await client.query('INSERT INTO ticks (id) VALUES ($1)', [n]);
    });
    const rowsOf = async (target: Target) => {
      const reader = new pg.Client({ connectionString: target.connection });
      await reader.connect();
      try {
        const { rows } = await reader.query<{ id: number }>('SELECT id FROM ticks ORDER BY id');
        return rows.map((row) => row.id);
      } finally {
        await reader.end();
      }
    };
    await consistencyCase({
      driver: postgresDriver,
      source: { name: 'orders', connection: source.url },
      restoreTarget: { name: 'orders', connection: restored.url },
      writer,
      rowsOf,
    });
  });

  it('sqlite (WAL): the copy and its fingerprint are the read transaction, not the final state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-consistency-sqlite-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'app.sqlite');
    const db = new Database(path);
    cleanups.push(() => {
      db.close();
      return Promise.resolve();
    });
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE ticks (id INTEGER PRIMARY KEY, at TEXT NOT NULL)');
    db.exec('CREATE TABLE steady (id INTEGER); INSERT INTO steady VALUES (1), (2), (3)');
    const insert = db.prepare('INSERT INTO ticks (id, at) VALUES (?, ?)');
    // The app's writer: one autocommit insert per event-loop turn, interleaved with the backup.
    const writer = new Writer(async (n) => {
      await new Promise((resolve) => setImmediate(resolve));
      insert.run(n, new Date().toISOString());
    });
    const rowsOf = (target: Target) => {
      const reader = new Database(target.connection, { readonly: true });
      try {
        return Promise.resolve(
          reader
            .prepare<[], { id: number }>('SELECT id FROM ticks ORDER BY id')
            .all()
            .map((row) => row.id),
        );
      } finally {
        reader.close();
      }
    };
    await consistencyCase({
      driver: sqliteDriver,
      source: { name: 'app', connection: path },
      restoreTarget: { name: 'app', connection: join(dir, 'restored.sqlite') },
      writer,
      rowsOf,
    });
  });
});
