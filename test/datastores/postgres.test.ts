import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  postgresDriver,
  repositoryReader,
  repositorySink,
  type Sandbox,
  type Target,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend } from '../../src/repo/index.js';
import { createPostgresDatabase, postgresUrl } from '../helpers/services.js';

import { FAST, PASSWORD, runDriverConformance, type MadeTarget } from './conformance.js';

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function emptyDatabase(): Promise<MadeTarget> {
  const db = await createPostgresDatabase('ds_pg');
  return { target: { name: 'orders', connection: db.url }, drop: db.drop };
}

/** NULLs, bytea with every byte value, unicode, numerics, json, arrays, partitions, large objects, 40 tables. */
const AWKWARD = `
  CREATE TABLE "Odd ""Name"" é" (
    id int PRIMARY KEY, t text, b bytea, n numeric, f float8, j jsonb, ts timestamptz,
    arr int[], d date, i interval);
  INSERT INTO "Odd ""Name"" é" VALUES
    (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (2, 'ünïcødé 🚀 中文 \\ '' "', '\\x00ff10', 12345678901234567890.123, 0.1, '{"a": [1, null]}',
       '2024-02-29 23:59:59.123456+05:30', '{1,NULL,3}', '2024-01-01', '1 day 02:03:04'),
    (3, repeat('x', 100000), (SELECT string_agg(lpad(to_hex(g), 2, '0'), '')::bytea FROM generate_series(0, 255) g),
       -0.0, 'NaN', 'null', 'infinity', '{}', 'infinity', '-1 mon');
  CREATE SCHEMA "other schema";
  CREATE TABLE "other schema".t (k text PRIMARY KEY, v bytea);
  INSERT INTO "other schema".t SELECT 'k' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 2000) g;
  CREATE TABLE measurements (at date NOT NULL, v int) PARTITION BY RANGE (at);
  CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  INSERT INTO measurements SELECT '2024-01-01'::date + g, g FROM generate_series(0, 500) g;
  DO $$ BEGIN
    FOR i IN 1..40 LOOP
      EXECUTE format('CREATE TABLE many_%s (id serial PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO many_%s (v) SELECT md5(g::text) FROM generate_series(1, %s) g', i, i * 3);
    END LOOP;
  END $$;
  CREATE TABLE empty_table (id int);
  SELECT lo_from_bytea(0, '\\xdeadbeef'::bytea);
  SELECT lo_from_bytea(0, decode(repeat('0123456789abcdef', 65536), 'hex'));
  CREATE VIEW v AS SELECT id FROM "Odd ""Name"" é";
  CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
`;

/** A target whose connection the test server accepts but to a role without read access. */
async function noReadRole(): Promise<MadeTarget & { canary: string }> {
  const db = await createPostgresDatabase('ds_pg_perm');
  await sql(db.url, 'CREATE TABLE secret_stuff (id int); INSERT INTO secret_stuff VALUES (1)');
  const role = `noread_${process.pid}_${Date.now()}`;
  await sql(postgresUrl(), `CREATE ROLE ${role} LOGIN`);
  const url = new URL(db.url);
  url.username = role;
  const canary = `canary-perm-${process.pid}-pw`;
  url.password = canary;
  return {
    target: { name: 'orders', connection: url.toString() },
    canary,
    drop: async () => {
      await db.drop();
      await sql(postgresUrl(), `DROP ROLE IF EXISTS ${role}`);
    },
  };
}

let sandbox: Sandbox | undefined;
let workDir: string;
let emptyBin: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'shipshape-pg-test-'));
  await chmod(workDir, 0o711);
  emptyBin = join(workDir, 'empty-bin');
  await mkdir(emptyBin);
  // A sandbox is a server with password authentication (the test server trusts loopback).
  const source = await emptyDatabase();
  try {
    await sql(source.target.connection, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    const repo = await Repository.init(openFsBackend(join(workDir, 'repo')), PASSWORD, FAST);
    try {
      await postgresDriver.backup(
        source.target,
        repositorySink(repo, { name: 'auth', kind: 'postgres' }),
      );
      sandbox = await postgresDriver.sandbox(await repositoryReader(repo, 'latest'), {
        baseDir: workDir,
      });
    } finally {
      await repo.close();
    }
  } finally {
    await source.drop();
  }
});

afterAll(async () => {
  await sandbox?.stop();
  await rm(workDir, { recursive: true, force: true });
});

function withWrongPassword(connection: string, password: string): string {
  const url = new URL(connection);
  url.password = password;
  return url.toString();
}

runDriverConformance({
  name: 'postgres',
  driver: postgresDriver,
  empty: emptyDatabase,
  seed: (target) => sql(target.connection, AWKWARD),
  change: (target) =>
    sql(target.connection, `UPDATE "other schema".t SET v = '\\x00' WHERE k = 'k7'`),
  expectEntries: [
    'public.Odd "Name" é',
    'other schema.t',
    'public.measurements_2024',
    'public.many_40',
    'pg_largeobject',
  ],
  faults: [
    {
      name: 'the server is unreachable',
      code: 'SHIP_DATASTORE_UNREACHABLE',
      secret: 'canary-unreachable-pw',
      make: () =>
        Promise.resolve({
          target: {
            name: 'orders',
            connection: 'postgres://shipshape:canary-unreachable-pw@127.0.0.1:1/orders',
          },
          drop: () => Promise.resolve(),
        }),
    },
    {
      name: 'the password is wrong',
      code: 'SHIP_DATASTORE_AUTH_FAILED',
      secret: 'canary-wrong-password-1234',
      make: () =>
        Promise.resolve({
          target: {
            name: 'orders',
            connection: withWrongPassword(sandbox!.target.connection, 'canary-wrong-password-1234'),
          },
          drop: () => Promise.resolve(),
        }),
    },
    {
      name: 'the database does not exist',
      code: 'SHIP_DATASTORE_NOT_FOUND',
      make: () => {
        const url = new URL(postgresUrl());
        url.pathname = '/no_such_database_here';
        return Promise.resolve({
          target: { name: 'orders', connection: url.toString() },
          drop: () => Promise.resolve(),
        });
      },
    },
    {
      name: 'the role may not read a table',
      code: 'SHIP_DATASTORE_PERMISSION_DENIED',
      secret: `canary-perm-${process.pid}-pw`,
      make: noReadRole,
    },
    {
      name: 'pg_dump is not installed',
      code: 'SHIP_DATASTORE_TOOL_MISSING',
      make: async () => {
        vi.stubEnv('SHIPSHAPE_POSTGRES_BIN', emptyBin);
        return emptyDatabase();
      },
      after: () => {
        vi.unstubAllEnvs();
      },
    },
  ],
});

describe('postgres driver specifics', () => {
  it('names the package when pg_dump is missing', async () => {
    vi.stubEnv('SHIPSHAPE_POSTGRES_BIN', emptyBin);
    const db = await emptyDatabase();
    const repo = await Repository.init(
      openFsBackend(join(workDir, `repo-tool-${Date.now()}`)),
      PASSWORD,
      FAST,
    );
    try {
      const error = (await postgresDriver
        .backup(db.target, repositorySink(repo, { name: 'orders', kind: 'postgres' }))
        .catch((e: unknown) => e)) as ShipError;
      expect(error.code).toBe('SHIP_DATASTORE_TOOL_MISSING');
      expect(error.message).toMatch(/pg_dump is not installed/);
      expect(error.hint).toContain('apt-get install postgresql-client-15');
      expect(error.hint).toContain('brew install libpq');
    } finally {
      vi.unstubAllEnvs();
      await repo.close();
      await db.drop();
    }
  });

  it("maps pg_dump's own failure to a code and redacts its output (fingerprint off, so pg_dump meets the error)", async () => {
    const made = await noReadRole();
    const repo = await Repository.init(
      openFsBackend(join(workDir, `repo-perm-${Date.now()}`)),
      PASSWORD,
      FAST,
    );
    try {
      const error = await postgresDriver
        .backup(made.target, repositorySink(repo, { name: 'orders', kind: 'postgres' }), {
          fingerprint: 'off',
        })
        .catch((e: unknown) => e);
      expect(isShipError(error)).toBe(true);
      const shipError = error as ShipError;
      expect(shipError.code).toBe('SHIP_DATASTORE_PERMISSION_DENIED');
      expect(shipError.message).toMatch(
        /pg_dump .*exited with 1: .*permission denied for table secret_stuff/s,
      );
      expect(JSON.stringify(shipError.toJSON())).not.toContain(made.canary);
      expect(await repo.snapshots()).toEqual([]);
    } finally {
      await repo.close();
      await made.drop();
    }
  });

  it('backs up with the documented least-privilege role (pg_read_all_data)', async () => {
    const db = await emptyDatabase();
    const role = `backup_${process.pid}_${Date.now()}`;
    await sql(db.target.connection, AWKWARD.replace(/SELECT lo_from_bytea[^;]*;/g, ''));
    await sql(postgresUrl(), `CREATE ROLE ${role} LOGIN; GRANT pg_read_all_data TO ${role}`);
    const repo = await Repository.init(
      openFsBackend(join(workDir, `repo-least-${Date.now()}`)),
      PASSWORD,
      FAST,
    );
    try {
      const url = new URL(db.target.connection);
      url.username = role;
      const asBackup = { name: 'orders', connection: url.toString() };
      const outcome = await postgresDriver.backup(
        asBackup,
        repositorySink(repo, { name: 'orders', kind: 'postgres' }),
        {
          fingerprint: 'full',
        },
      );
      expect(outcome.fingerprint?.digest).toBe(
        (await postgresDriver.fingerprint(db.target, 'full')).digest,
      );
    } finally {
      await repo.close();
      await db.drop();
      await sql(postgresUrl(), `DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('reports the server identity and a consistent point with an LSN on the server clock', async () => {
    const db = await emptyDatabase();
    const repo = await Repository.init(
      openFsBackend(join(workDir, `repo-id-${Date.now()}`)),
      PASSWORD,
      FAST,
    );
    try {
      const identity = await postgresDriver.identity(db.target);
      expect(identity.kind).toBe('postgres-system-identifier');
      expect(identity.id).toMatch(/^\d{10,}$/);
      expect(identity.location).not.toContain('@127.0.0.1:55432/shipshape');
      const outcome = await postgresDriver.backup(
        db.target,
        repositorySink(repo, { name: 'orders', kind: 'postgres' }),
      );
      expect(outcome.consistentPoint.kind).toBe('postgres-lsn');
      expect(outcome.consistentPoint.value).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(outcome.toolVersions.pg_dump).toMatch(/^15\./);
      expect(outcome.identity.id).toBe(identity.id);
    } finally {
      await repo.close();
      await db.drop();
    }
  });

  it('a dump whose server connection is terminated mid-backup (as a restart does) fails retryably, no snapshot', async () => {
    const db = await emptyDatabase();
    await sql(
      db.target.connection,
      'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)',
    );
    const repo = await Repository.init(
      openFsBackend(join(workDir, `repo-kill-${Date.now()}`)),
      PASSWORD,
      FAST,
    );
    const locker = new pg.Client({ connectionString: db.target.connection });
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await locker.connect();
    await admin.connect();
    let killer: Promise<void> | undefined;
    try {
      const error = await postgresDriver
        .backup(db.target, repositorySink(repo, { name: 'orders', kind: 'postgres' }), {
          // No fingerprint: its reads would hold locks in the backup's own transaction.
          fingerprint: 'off',
          onConsistentPoint: async () => {
            // pg_dump's first step, locking every table, now waits behind this lock: the kill
            // below finds it there, whatever the timing.
            await locker.query('BEGIN');
            await locker.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
            killer = (async () => {
              for (;;) {
                const { rows } = await admin.query<{ pid: number }>(
                  `SELECT pid FROM pg_stat_activity
                   WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'`,
                  [new URL(db.target.connection).pathname.slice(1)],
                );
                const found = rows[0];
                if (found !== undefined) {
                  await admin.query('SELECT pg_terminate_backend($1)', [found.pid]);
                  break;
                }
                await new Promise((resolve) => setImmediate(resolve));
              }
              await locker.query('ROLLBACK');
            })();
          },
        })
        .catch((e: unknown) => e);
      await killer;
      expect(isShipError(error), String(error)).toBe(true);
      expect((error as ShipError).code).toBe('SHIP_DATASTORE_UNREACHABLE');
      expect((error as ShipError).retryable).toBe(true);
      expect((error as ShipError).message).toMatch(/pg_dump/);
      expect(await repo.snapshots()).toEqual([]);
    } finally {
      await locker.end();
      await admin.end();
      await repo.close();
      await db.drop();
    }
  });

  it('the sandbox requires a password and listens on loopback only', async () => {
    const url = new URL(sandbox!.target.connection);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.password.length).toBeGreaterThan(16);
    const identity = await postgresDriver.identity(sandbox!.target);
    expect(identity.id).not.toBe(
      (await postgresDriver.identity({ name: 'x', connection: postgresUrl() } satisfies Target)).id,
    );
  });
});
