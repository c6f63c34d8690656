import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  compareFingerprints,
  fingerprintFromManifest,
  mariadbDriver,
  mysqlDriver,
  parseMariadbConnection,
  repositoryReader,
  repositorySink,
  startMariadbServer,
  supportedKinds,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend } from '../../src/repo/index.js';
import { createMariadbDatabase, mariadbRows as sql, mariadbUrl } from '../helpers/services.js';

import { FAST, PASSWORD, runDriverConformance, type MadeTarget } from './conformance.js';

function withDatabase(url: string, database: string, user?: string, password?: string): string {
  const next = new URL(url);
  next.pathname = `/${database}`;
  if (user !== undefined) next.username = encodeURIComponent(user);
  if (password !== undefined) next.password = encodeURIComponent(password);
  return next.toString();
}

async function emptyDatabase(): Promise<MadeTarget> {
  const db = await createMariadbDatabase('ds_maria');
  return { target: { name: 'orders', connection: db.url }, drop: db.drop };
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  .toString('hex')
  .toUpperCase();

/** NULLs, every byte value, unicode, decimals, floats, JSON, temporal, BIT/ENUM/SET, objects. */
const AWKWARD = `
  SET SESSION max_recursive_iterations = 100000;
  CREATE TABLE \`Odd \`\`Name\`\` é\` (
    id INT PRIMARY KEY, t MEDIUMTEXT, b LONGBLOB, n DECIMAL(40,10), f DOUBLE, fl FLOAT, j JSON,
    ts TIMESTAMP(6) NULL, dt DATETIME(6), d DATE, bi BIT(10), e ENUM('a','b'), s SET('x','y'),
    u BIGINT UNSIGNED) ENGINE=InnoDB;
  INSERT INTO \`Odd \`\`Name\`\` é\` VALUES
    (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (2, 'ünïcødé 🚀 中文 \\\\ '' "\\t\\n', UNHEX('00FF10'), 123456789012345678901234567890.1234567890,
       0.1, 0.1, '{"a": [1, null]}', '2024-02-29 23:59:59.123456', '2024-02-29 23:59:59.123456',
       '2024-01-01', b'1010101010', 'b', 'x,y', 18446744073709551615),
    (3, REPEAT('x', 100000), UNHEX('${ALL_BYTES}'), -0.0, 1e308, -3.4e38, 'null',
       '1970-01-01 00:00:01', '1000-01-01 00:00:00', '9999-12-31', b'0', 'a', '', 0);
  CREATE TABLE other (k VARCHAR(20) PRIMARY KEY, v VARBINARY(16)) ENGINE=InnoDB;
  INSERT INTO other WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000)
    SELECT CONCAT('k', n), UNHEX(MD5(n)) FROM g;
  CREATE TABLE dup (v INT) ENGINE=InnoDB;
  INSERT INTO dup VALUES (1), (1), (2);
  ${Array.from(
    { length: 40 },
    (_, i) => `CREATE TABLE many_${i + 1} (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT);
      INSERT INTO many_${i + 1} (v) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${(i + 1) * 3})
        SELECT MD5(n) FROM g;`,
  ).join('\n')}
  CREATE TABLE empty_table (id INT) ENGINE=InnoDB;
  CREATE VIEW v AS SELECT id FROM \`Odd \`\`Name\`\` é\`;
  CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;
  CREATE PROCEDURE p() SELECT 1;
  CREATE TRIGGER trg BEFORE INSERT ON empty_table FOR EACH ROW SET NEW.id = NEW.id + 0;
  CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM empty_table WHERE 1 = 0;
`;

let workDir: string;
let emptyBin: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'shipshape-mariadb-test-'));
  await chmod(workDir, 0o711);
  emptyBin = join(workDir, 'empty-bin');
  await mkdir(emptyBin);
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A user the server accepts, with no privilege on the database. */
async function noAccessUser(): Promise<MadeTarget> {
  const db = await emptyDatabase();
  const user = `noread_${process.pid}_${randomBytes(3).toString('hex')}`;
  const password = `canary-perm-${process.pid}-pw`;
  await sql(mariadbUrl(), `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
  const database = new URL(db.target.connection).pathname.slice(1);
  return {
    target: {
      name: 'orders',
      connection: withDatabase(mariadbUrl(), database, user, password),
    },
    drop: async () => {
      await sql(mariadbUrl(), `DROP USER IF EXISTS '${user}'@'127.0.0.1'`);
      await db.drop();
    },
  };
}

runDriverConformance({
  name: 'mariadb',
  driver: mariadbDriver,
  empty: emptyDatabase,
  seed: async (target) => {
    await sql(target.connection, AWKWARD);
  },
  change: async (target) => {
    await sql(target.connection, `UPDATE other SET v = 0x00 WHERE k = 'k7'`);
  },
  expectEntries: ['Odd `Name` é', 'other', 'dup', 'many_40', 'empty_table'],
  faults: [
    {
      name: 'the server is unreachable',
      code: 'SHIP_DATASTORE_UNREACHABLE',
      make: () =>
        Promise.resolve({
          target: { name: 'orders', connection: 'mysql://shipshape@127.0.0.1:9/nothing' },
          drop: () => Promise.resolve(),
        }),
    },
    {
      name: 'the password is wrong',
      code: 'SHIP_DATASTORE_AUTH_FAILED',
      secret: `canary-auth-${process.pid}-pw`,
      make: async () => {
        const db = await emptyDatabase();
        const user = `wrongpw_${process.pid}_${randomBytes(3).toString('hex')}`;
        await sql(mariadbUrl(), `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'right-one'`);
        const database = new URL(db.target.connection).pathname.slice(1);
        return {
          target: {
            name: 'orders',
            connection: withDatabase(mariadbUrl(), database, user, `canary-auth-${process.pid}-pw`),
          },
          drop: async () => {
            await sql(mariadbUrl(), `DROP USER IF EXISTS '${user}'@'127.0.0.1'`);
            await db.drop();
          },
        };
      },
    },
    {
      name: 'the user may not read the database',
      code: 'SHIP_DATASTORE_PERMISSION_DENIED',
      secret: `canary-perm-${process.pid}-pw`,
      make: noAccessUser,
    },
    {
      name: 'mariadb-dump is not installed',
      code: 'SHIP_DATASTORE_TOOL_MISSING',
      make: async () => {
        vi.stubEnv('SHIPSHAPE_MARIADB_BIN', emptyBin);
        return emptyDatabase();
      },
      after: () => {
        vi.unstubAllEnvs();
      },
    },
  ],
});

async function freshRepo(label: string): Promise<Repository> {
  return Repository.init(
    openFsBackend(join(workDir, `repo-${label}-${randomBytes(4).toString('hex')}`)),
    PASSWORD,
    FAST,
  );
}

describe('mariadb driver specifics', () => {
  it('is registered for both mariadb and mysql', () => {
    expect(supportedKinds()).toEqual(expect.arrayContaining(['mariadb', 'mysql']));
    expect(mysqlDriver.kind).toBe('mysql');
  });

  it('names the Debian package mariadb-client when the programs are missing', async () => {
    vi.stubEnv('SHIPSHAPE_MARIADB_BIN', emptyBin);
    const db = await emptyDatabase();
    const repo = await freshRepo('tool');
    try {
      const error = (await mariadbDriver
        .backup(db.target, repositorySink(repo, { name: 'orders', kind: 'mariadb' }))
        .catch((e: unknown) => e)) as ShipError;
      expect(error.code).toBe('SHIP_DATASTORE_TOOL_MISSING');
      expect(error.hint).toContain('apt-get install mariadb-client');
      expect(error.exitCode).toBe(3);
    } finally {
      vi.unstubAllEnvs();
      await repo.close();
      await db.drop();
    }
  });

  it('records the server, versions and a snapshot-time consistent point (binary log off)', async () => {
    const db = await emptyDatabase();
    const repo = await freshRepo('meta');
    try {
      await sql(db.target.connection, 'CREATE TABLE t (id INT); INSERT INTO t VALUES (1), (2)');
      const outcome = await mariadbDriver.backup(
        db.target,
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'counts' },
      );
      expect(outcome.identity.kind).toBe('mariadb-instance');
      expect(outcome.identity.version).toMatch(/MariaDB/);
      expect(outcome.toolVersions['mariadb-dump']).toMatch(/^\d+\.\d+/);
      expect(outcome.consistentPoint.kind).toBe('mariadb-snapshot-time');
      expect(outcome.fingerprint?.entries).toEqual({ t: { rows: 2 } });
      const [stored] = await repo.snapshots();
      expect(fingerprintFromManifest(stored?.manifest.fingerprints)?.mode).toBe('counts');
    } finally {
      await repo.close();
      await db.drop();
    }
  });

  it('consistency under writes: the dump and its fingerprint hold exactly the rows committed before the snapshot', async () => {
    const source = await emptyDatabase();
    const restored = await emptyDatabase();
    const repo = await freshRepo('consistency');
    const state = { stop: false, inFlight: false };
    let writer: Promise<void> | undefined;
    try {
      await sql(
        source.target.connection,
        `CREATE TABLE ticks (id INT PRIMARY KEY) ENGINE=InnoDB;
         CREATE TABLE steady (id INT) ENGINE=InnoDB; INSERT INTO steady VALUES (1), (2), (3);`,
      );
      let committed = 0;
      const waiters: { n: number; resolve: () => void }[] = [];
      const reached = (n: number) =>
        committed >= n
          ? Promise.resolve()
          : new Promise<void>((r) => waiters.push({ n, resolve: r }));
      writer = (async () => {
        while (!state.stop) {
          state.inFlight = true;
          await sql(source.target.connection, `INSERT INTO ticks VALUES (${committed + 1})`);
          committed++;
          state.inFlight = false;
          for (const w of waiters.filter((x) => committed >= x.n)) w.resolve();
        }
      })();
      await reached(10);
      const before = committed;
      let atPoint = -1;
      const outcome = await mariadbDriver.backup(
        source.target,
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        {
          fingerprint: 'full',
          onConsistentPoint: async () => {
            // An insert still in flight may already be committed (its client has not exited).
            atPoint = committed + (state.inFlight ? 1 : 0);
            await reached(atPoint + 10);
          },
        },
      );
      state.stop = true;
      await writer;
      const reader = await repositoryReader(repo, outcome.snapshot.snapshotId);
      await mariadbDriver.restore(reader, restored.target);
      const ids = (await sql(restored.target.connection, 'SELECT id FROM ticks ORDER BY id')).map(
        (row) => Number(row[0]),
      );
      expect(ids.length).toBeGreaterThanOrEqual(before);
      expect(ids.length).toBeLessThanOrEqual(atPoint);
      expect(committed).toBeGreaterThanOrEqual(atPoint + 10);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
      const recorded = fingerprintFromManifest(reader.snapshot.manifest.fingerprints)!;
      expect(recorded.entries['ticks']?.rows).toBe(ids.length);
      expect(
        compareFingerprints(recorded, await mariadbDriver.fingerprint(restored.target, 'full'))
          .equal,
      ).toBe(true);
      const final = compareFingerprints(
        recorded,
        await mariadbDriver.fingerprint(source.target, 'full'),
      );
      expect(final.changed).toEqual(['ticks']);
    } finally {
      state.stop = true;
      await writer?.catch(() => undefined);
      await repo.close();
      await restored.drop();
      await source.drop();
    }
  });

  it('restores views, routines, triggers and events, not only tables', async () => {
    const source = await emptyDatabase();
    const target = await emptyDatabase();
    const repo = await freshRepo('objects');
    try {
      await sql(source.target.connection, AWKWARD);
      await mariadbDriver.backup(
        source.target,
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'off' },
      );
      await mariadbDriver.restore(await repositoryReader(repo, 'latest'), target.target);
      const objects = await sql(
        target.target.connection,
        `SELECT 'view', TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
         UNION ALL SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
         UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
         UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()
         ORDER BY 1, 2`,
      );
      expect(objects).toEqual([
        ['event', 'ev'],
        ['FUNCTION', 'f'],
        ['PROCEDURE', 'p'],
        ['trigger', 'trg'],
        ['view', 'v'],
      ]);
    } finally {
      await repo.close();
      await target.drop();
      await source.drop();
    }
  });

  it('backs up with the documented least-privilege user', async () => {
    const db = await emptyDatabase();
    const database = new URL(db.target.connection).pathname.slice(1);
    const user = `backup_${process.pid}_${randomBytes(3).toString('hex')}`;
    const repo = await freshRepo('least');
    try {
      await sql(db.target.connection, AWKWARD);
      await sql(
        mariadbUrl(),
        `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'least-pw';
         GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON \`${database}\`.* TO '${user}'@'127.0.0.1';`,
      );
      const target = {
        name: 'orders',
        connection: withDatabase(mariadbUrl(), database, user, 'least-pw'),
      };
      const outcome = await mariadbDriver.backup(
        target,
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'full' },
      );
      expect(outcome.fingerprint?.digest).toBe(
        (await mariadbDriver.fingerprint(db.target, 'full')).digest,
      );
    } finally {
      await sql(mariadbUrl(), `DROP USER IF EXISTS '${user}'@'127.0.0.1'`);
      await repo.close();
      await db.drop();
    }
  });

  it('records the binary-log position and GTID when binary logging is on', async () => {
    const server = await startMariadbServer({ baseDir: workDir, binaryLog: true });
    const repo = await freshRepo('binlog');
    try {
      await sql(
        server.connection,
        'CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO t VALUES (1), (2), (3)',
      );
      const outcome = await mariadbDriver.backup(
        { name: 'orders', connection: server.connection },
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'off' },
      );
      const [[file, position]] = (await sql(server.connection, 'SHOW MASTER STATUS')) as [
        [string, string],
      ];
      const [[gtid]] = (await sql(server.connection, 'SELECT @@gtid_binlog_pos')) as [[string]];
      expect(outcome.consistentPoint).toMatchObject({
        kind: 'mariadb-binlog',
        value: `${file}:${position} gtid=${gtid}`,
      });

      // MariaDB reads the position from the snapshot itself (binlog_snapshot_file/_position):
      // the documented grants suffice, without RELOAD or BINLOG MONITOR.
      await sql(
        server.connection,
        `CREATE USER 'least'@'127.0.0.1' IDENTIFIED BY 'least-pw';
         GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON restored.* TO 'least'@'127.0.0.1';`,
      );
      const least = {
        name: 'orders',
        connection: withDatabase(server.connection, 'restored', 'least', 'least-pw'),
      };
      const allowed = await mariadbDriver.backup(
        least,
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'off' },
      );
      const [[file2, position2]] = (await sql(server.connection, 'SHOW MASTER STATUS')) as [
        [string, string],
      ];
      expect(allowed.consistentPoint.kind).toBe('mariadb-binlog');
      expect(allowed.consistentPoint.value).toMatch(new RegExp(`^${file2}:${position2} gtid=`));
    } finally {
      await repo.close();
      await server.stop();
    }
  });

  it('a dump that dies half-way writes no snapshot (connection killed mid-dump)', async () => {
    const db = await emptyDatabase();
    const database = new URL(db.target.connection).pathname.slice(1);
    const repo = await freshRepo('kill');
    const { spawn } = await import('node:child_process');
    const conn = parseMariadbConnection(db.target.connection);
    // A session that holds a write lock on the table the dump reads last.
    const locker = spawn(
      'mariadb',
      [
        '--no-defaults',
        `--host=${conn.host}`,
        `--port=${conn.port}`,
        `--user=${conn.user ?? ''}`,
        `--database=${database}`,
        '--batch',
        '--unbuffered',
        '--skip-column-names',
      ],
      { env: { ...process.env, MYSQL_PWD: conn.password ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let lockerOut = '';
    locker.stdout.setEncoding('utf8').on('data', (t: string) => (lockerOut += t));
    const lockerSays = async (word: string) => {
      while (!lockerOut.includes(word)) {
        if (locker.exitCode !== null) throw new Error('the locking session ended');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      // The first table is larger than the pipes between the dump and the repository, so the
      // dump is still writing it when the consistent point is reported.
      await sql(
        db.target.connection,
        `SET SESSION max_recursive_iterations = 100000;
         CREATE TABLE aa (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;
         INSERT INTO aa WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 8000)
           SELECT n, REPEAT(MD5(n), 32) FROM g;
         CREATE TABLE zz (id INT) ENGINE=InnoDB; INSERT INTO zz VALUES (1);`,
      );
      let killer: Promise<void> | undefined;
      const error = await mariadbDriver
        .backup(db.target, repositorySink(repo, { name: 'orders', kind: 'mariadb' }), {
          fingerprint: 'off',
          onConsistentPoint: async () => {
            locker.stdin.write("LOCK TABLES zz WRITE; SELECT 'locked';\n");
            await lockerSays('locked');
            killer = (async () => {
              for (;;) {
                const rows = await sql(
                  mariadbUrl(),
                  `SELECT ID FROM information_schema.PROCESSLIST
                   WHERE DB = '${database}' AND STATE LIKE 'Waiting for table metadata lock%'`,
                );
                const id = rows[0]?.[0];
                if (id !== undefined) {
                  await sql(mariadbUrl(), `KILL ${id}`);
                  break;
                }
                await new Promise((r) => setTimeout(r, 20));
              }
              locker.stdin.write("UNLOCK TABLES; SELECT 'unlocked';\n");
              await lockerSays('unlocked');
            })();
          },
        })
        .catch((e: unknown) => e);
      await killer;
      expect(isShipError(error), String(error)).toBe(true);
      expect((error as ShipError).code).toBe('SHIP_DATASTORE_UNREACHABLE');
      expect((error as ShipError).retryable).toBe(true);
      expect((error as ShipError).message).toMatch(/mariadb-dump/);
      expect(await repo.snapshots()).toEqual([]);
    } finally {
      locker.stdin.end();
      await new Promise((r) => locker.once('close', r));
      await repo.close();
      await db.drop();
    }
  });

  it('the full fingerprint counts duplicate rows (a sum, not an XOR)', async () => {
    const db = await emptyDatabase();
    try {
      await sql(db.target.connection, 'CREATE TABLE d (v INT); INSERT INTO d VALUES (5), (5)');
      const two = await mariadbDriver.fingerprint(db.target, 'full');
      await sql(db.target.connection, 'INSERT INTO d VALUES (5), (5)');
      const four = await mariadbDriver.fingerprint(db.target, 'full');
      expect(four.entries['d']?.digest).not.toBe(two.entries['d']?.digest);
      expect(four.entries['d']?.digest).not.toBe('0');
    } finally {
      await db.drop();
    }
  });

  it('the sandbox listens on loopback with a password and is another server', async () => {
    const db = await emptyDatabase();
    const repo = await freshRepo('sandbox');
    try {
      await sql(db.target.connection, 'CREATE TABLE t (id INT); INSERT INTO t VALUES (1)');
      await mariadbDriver.backup(
        db.target,
        repositorySink(repo, { name: 'orders', kind: 'mariadb' }),
        { fingerprint: 'off' },
      );
      const sandbox = await mariadbDriver.sandbox(await repositoryReader(repo, 'latest'), {
        baseDir: workDir,
      });
      try {
        const url = new URL(sandbox.target.connection);
        expect(url.hostname).toBe('127.0.0.1');
        expect(url.password.length).toBeGreaterThan(16);
        const identity = await mariadbDriver.identity(sandbox.target);
        expect(identity.id).not.toBe((await mariadbDriver.identity(db.target)).id);
        const error = await mariadbDriver
          .fingerprint(
            {
              ...sandbox.target,
              connection: sandbox.target.connection.replace(/:[^:@/]+@/, ':x@'),
            },
            'counts',
          )
          .catch((e: unknown) => e);
        expect(isShipError(error) && error.code).toBe('SHIP_DATASTORE_AUTH_FAILED');
      } finally {
        await sandbox.stop();
      }
    } finally {
      await repo.close();
      await db.drop();
    }
  });
});
