/**
 * Repository-side faults during a data-store backup (postgres, sqlite, mariadb, redis): the
 * repository's disk fills up while a dump streams into it. The backup fails with the repository's error (SHIP_REPO_IO) and no
 * snapshot is written.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  mariadbDriver,
  parseMariadbConnection,
  postgresDriver,
  redisDriver,
  repositorySink,
  sqliteDriver,
} from '../../src/datastores/index.js';
import {
  NODE_FS_OPS,
  Repository,
  openFsBackend,
  type FsFileHandle,
  type FsOps,
} from '../../src/repo/index.js';
import { createPostgresDatabase, mariadbUrl, redisUrl } from '../helpers/services.js';

import { FAST, PASSWORD } from './conformance.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The real local backend over a file system that runs out of space: writes of pack files fail
 * with ENOSPC once `budget` bytes were written (as `write(2)` does on a full volume).
 */
function diskFullAfter(budget: number): FsOps & { full: boolean } {
  let used = 0;
  const ops = {
    ...NODE_FS_OPS,
    full: false,
    async open(path: string, flags: 'r' | 'wx', mode?: number): Promise<FsFileHandle> {
      const handle = await NODE_FS_OPS.open(path, flags, mode);
      if (flags !== 'wx' || !path.includes(`${sep}data${sep}`)) return handle;
      return {
        read: (...args) => handle.read(...args),
        sync: () => handle.sync(),
        stat: () => handle.stat(),
        close: () => handle.close(),
        write: (buffer, offset, length) => {
          if (used + length > budget) {
            ops.full = true;
            return Promise.reject(
              Object.assign(new Error(`ENOSPC: no space left on device, write`), {
                code: 'ENOSPC',
                errno: -28,
              }),
            );
          }
          used += length;
          return handle.write(buffer, offset, length);
        },
      };
    },
  };
  return ops;
}

async function fullRepo(budget: number) {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-enospc-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await (await Repository.init(openFsBackend(join(dir, 'repo')), PASSWORD, FAST)).close();
  const ops = diskFullAfter(budget);
  const repo = await Repository.open(openFsBackend(join(dir, 'repo'), { ops }), PASSWORD, FAST);
  cleanups.push(() => repo.close());
  return { backend: ops, repo };
}

describe('repository disk full during a data-store backup', () => {
  it('postgres: fails with the repository ENOSPC error and writes no snapshot', async () => {
    const db = await createPostgresDatabase('ds_enospc');
    cleanups.push(db.drop);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      "CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS v FROM generate_series(1, 50000) g",
    );
    await client.end();
    const { backend, repo } = await fullRepo(64 * 1024);
    const error = await postgresDriver
      .backup(
        { name: 'orders', connection: db.url },
        repositorySink(repo, { name: 'orders', kind: 'postgres' }),
      )
      .catch((e: unknown) => e);
    expect(backend.full).toBe(true);
    expect(isShipError(error), String(error)).toBe(true);
    expect((error as ShipError).code).toBe('SHIP_REPO_IO');
    expect((error as ShipError).hint).toMatch(/free space/);
    expect(await repo.snapshots()).toEqual([]);
  });

  it('sqlite: fails with the repository ENOSPC error and writes no snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-enospc-sqlite-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { default: Database } = await import('better-sqlite3');
    const path = join(dir, 'app.sqlite');
    const db = new Database(path);
    db.exec(
      'CREATE TABLE t (v BLOB); INSERT INTO t SELECT randomblob(4096) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) SELECT x FROM c)',
    );
    db.close();
    const { backend, repo } = await fullRepo(1024 * 1024);
    const error = await sqliteDriver
      .backup(
        { name: 'app', connection: path },
        repositorySink(repo, { name: 'app', kind: 'sqlite' }),
      )
      .catch((e: unknown) => e);
    expect(backend.full).toBe(true);
    expect(isShipError(error) && error.code).toBe('SHIP_REPO_IO');
    expect(await repo.snapshots()).toEqual([]);
  });

  it('mariadb: fails with the repository ENOSPC error and writes no snapshot', async () => {
    const conn = parseMariadbConnection(mariadbUrl());
    const database = `ds_enospc_${process.pid}`;
    const client = (sql: string) =>
      execFileSync(
        'mariadb',
        [
          '--no-defaults',
          `--host=${conn.host}`,
          `--port=${conn.port}`,
          ...(conn.user === undefined ? [] : [`--user=${conn.user}`]),
        ],
        { input: sql, env: { ...process.env, MYSQL_PWD: conn.password ?? '' } },
      );
    client(
      `CREATE DATABASE ${database}; USE ${database}; CREATE TABLE big ENGINE=InnoDB AS ` +
        `SELECT seq AS id, CONCAT(MD5(seq), REPEAT('x', 200)) AS v FROM seq_1_to_50000;`,
    );
    cleanups.push(() => {
      client(`DROP DATABASE IF EXISTS ${database}`);
      return Promise.resolve();
    });
    const url = new URL(mariadbUrl());
    url.pathname = `/${database}`;
    const { backend, repo } = await fullRepo(64 * 1024);
    const error = await mariadbDriver
      .backup(
        { name: 'orders', connection: url.toString() },
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'off' },
      )
      .catch((e: unknown) => e);
    expect(backend.full).toBe(true);
    expect(isShipError(error) && error.code, String(error)).toBe('SHIP_REPO_IO');
    expect(await repo.snapshots()).toEqual([]);
  });

  it('redis: fails with the repository ENOSPC error and writes no snapshot', async () => {
    const { backend, repo } = await fullRepo(0);
    const error = await redisDriver
      .backup(
        { name: 'cache', connection: redisUrl() },
        repositorySink(repo, { name: 'cache', kind: 'redis' }),
        { fingerprint: 'off' },
      )
      .catch((e: unknown) => e);
    expect(backend.full).toBe(true);
    expect(isShipError(error) && error.code, String(error)).toBe('SHIP_REPO_IO');
    expect(await repo.snapshots()).toEqual([]);
  });
});
