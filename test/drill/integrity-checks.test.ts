/**
 * Integrity checks against the real servers of `scripts/services.sh` (PostgreSQL, MariaDB, Redis)
 * and a SQLite file: one table of SQL checks every SQL kind runs, then Redis keys.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  RedisClient,
  parseRedisConnection,
  queryValue,
  redisKeyFacts,
  type Target,
} from '../../src/datastores/index.js';
import { runIntegrityChecks } from '../../src/drill/index.js';
import type { IntegrityCheck } from '../../src/spec/index.js';
import {
  createMariadbDatabase,
  createPostgresDatabase,
  mariadbSql,
  redisUrl,
} from '../helpers/services.js';

const SETUP = [
  'CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, note VARCHAR(100))',
  "INSERT INTO orders (id, total, note) VALUES (1, 100, 'first'), (2, 250, NULL), (3, 75, 'third')",
];

/** A data store with the `orders` table, and a way to count its rows behind the checks' back. */
interface SqlStore {
  readonly target: Target;
  count(): Promise<number>;
  drop(): Promise<void>;
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'shipshape-integrity-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const stores: Record<'postgres' | 'mariadb' | 'sqlite', () => Promise<SqlStore>> = {
  postgres: async () => {
    const db = await createPostgresDatabase('integrity');
    const run = async <T>(fn: (client: pg.Client) => Promise<T>) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end();
      }
    };
    await run(async (client) => {
      for (const statement of SETUP) await client.query(statement);
    });
    return {
      target: { name: 'orders', connection: db.url },
      count: () =>
        run(async (client) =>
          Number(
            (await client.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]!.n,
          ),
        ),
      drop: db.drop,
    };
  },
  mariadb: async () => {
    const db = await createMariadbDatabase('integrity');
    await mariadbSql(db.url, SETUP.map((s) => `${s};`).join('\n'));
    return {
      target: { name: 'orders', connection: db.url },
      count: async () => Number(await mariadbSql(db.url, 'SELECT count(*) FROM orders')),
      drop: db.drop,
    };
  },
  sqlite: () => {
    const path = join(scratch, `orders-${randomBytes(4).toString('hex')}.sqlite`);
    const db = new Database(path);
    for (const statement of SETUP) db.exec(statement);
    db.close();
    return Promise.resolve({
      target: { name: 'orders', connection: path },
      count: () => {
        const reader = new Database(path, { readonly: true });
        try {
          return Promise.resolve(
            reader.prepare<[], { n: number }>('SELECT count(*) AS n FROM orders').get()!.n,
          );
        } finally {
          reader.close();
        }
      },
      drop: () => Promise.resolve(),
    });
  },
};

function sql(name: string, query: string, expect: Partial<IntegrityCheck>): IntegrityCheck {
  return { name, sql: query, ...expect };
}

describe.each(Object.keys(stores) as ('postgres' | 'mariadb' | 'sqlite')[])(
  'SQL integrity checks on %s',
  (kind) => {
    let store: SqlStore;
    beforeAll(async () => {
      store = await stores[kind]();
    });
    afterAll(async () => {
      await store.drop();
    });

    it('passes and fails checks by value, with readable expected and actual', async () => {
      const results = await runIntegrityChecks(kind, store.target, [
        sql('count', 'SELECT count(*) FROM orders', { equals: 3 }),
        sql('no negatives', 'SELECT count(*) FROM orders WHERE total < 0', { equals: 0 }),
        sql('sum in range', 'SELECT sum(total) FROM orders', { min: 400, max: 500 }),
        sql('at least', 'SELECT max(total) FROM orders', { min: 300 }),
        sql('wrong count', 'SELECT count(*) FROM orders', { equals: 4 }),
        sql('boolean', 'SELECT count(*) > 0 FROM orders', { equals: true }),
        sql('text', 'SELECT note FROM orders WHERE id = 1', { equals: 'first' }),
        sql('null', 'SELECT note FROM orders WHERE id = 2', { equals: 'x' }),
        sql('not a number', 'SELECT note FROM orders WHERE id = 1', { min: 1 }),
      ]);
      expect(
        results.map(({ name, kind: k, passed, expected, actual }) => ({
          name,
          k,
          passed,
          expected,
          actual,
        })),
      ).toEqual([
        { name: 'count', k: 'sql', passed: true, expected: '= 3', actual: '3' },
        { name: 'no negatives', k: 'sql', passed: true, expected: '= 0', actual: '0' },
        {
          name: 'sum in range',
          k: 'sql',
          passed: true,
          expected: 'between 400 and 500',
          actual: '425',
        },
        { name: 'at least', k: 'sql', passed: false, expected: '>= 300', actual: '250' },
        { name: 'wrong count', k: 'sql', passed: false, expected: '= 4', actual: '3' },
        {
          name: 'boolean',
          k: 'sql',
          passed: true,
          expected: '= true',
          actual: kind === 'postgres' ? 'true' : '1',
        },
        { name: 'text', k: 'sql', passed: true, expected: '= "first"', actual: '"first"' },
        { name: 'null', k: 'sql', passed: false, expected: '= "x"', actual: 'NULL' },
        {
          name: 'not a number',
          k: 'sql',
          passed: false,
          expected: '>= 1',
          actual: '"first" (not a number)',
        },
      ]);
      for (const result of results) expect(result.durationMs).toBeGreaterThanOrEqual(0);
    });

    it('rejects a result that is not one row with one column', async () => {
      await expect(
        queryValue(kind, store.target, 'SELECT id, total FROM orders WHERE id = 1'),
      ).rejects.toMatchObject({
        code: 'SHIP_DATASTORE_QUERY_SHAPE',
        message: expect.stringContaining('returned 1 row and 2 columns') as unknown,
      });
      await expect(
        queryValue(kind, store.target, 'SELECT id FROM orders WHERE id = 99'),
      ).rejects.toMatchObject({
        code: 'SHIP_DATASTORE_QUERY_SHAPE',
        message: expect.stringContaining('returned 0 rows') as unknown,
      });
      await expect(queryValue(kind, store.target, 'SELECT id FROM orders')).rejects.toMatchObject({
        code: 'SHIP_DATASTORE_QUERY_SHAPE',
        message: expect.stringContaining('returned 3 rows and 1 column') as unknown,
      });
      const [result] = await runIntegrityChecks(kind, store.target, [
        sql('shape', 'SELECT id FROM orders', { equals: 1 }),
      ]);
      expect(result).toMatchObject({ passed: false, expected: '= 1' });
      expect(result!.actual).toContain('must return exactly one row with one column');
    });

    it('reports an SQL error as a failed check with the server’s message', async () => {
      await expect(
        queryValue(kind, store.target, 'SELECT no_such_column FROM orders'),
      ).rejects.toMatchObject({ code: 'SHIP_DATASTORE_QUERY_FAILED' });
      const [result] = await runIntegrityChecks(kind, store.target, [
        sql('broken', 'SELECT no_such_column FROM orders', { equals: 0 }),
      ]);
      expect(result).toMatchObject({ name: 'broken', kind: 'sql', passed: false });
      expect(result!.actual).toMatch(/the integrity query failed on .*no_such_column/);
    });

    it('runs read-only: a write fails and changes nothing', async () => {
      const writes = [
        'INSERT INTO orders (id, total) VALUES (10, 1) RETURNING id',
        'DELETE FROM orders',
        'COMMIT; DELETE FROM orders; SELECT 1',
      ];
      const results = await runIntegrityChecks(
        kind,
        store.target,
        writes.map((query, i) => sql(`write ${i}`, query, { min: 0 })),
      );
      expect(results.map((r) => r.passed)).toEqual([false, false, false]);
      expect(results[0]!.actual).toMatch(/read[- ]?only/i);
      expect(await store.count()).toBe(3);
    });
  },
);

describe('checks that cannot run', () => {
  it('reports an unreachable server as a failed check', async () => {
    const [result] = await runIntegrityChecks(
      'postgres',
      { name: 'orders', connection: 'postgres://shipshape@127.0.0.1:1/orders' },
      [sql('count', 'SELECT 1', { equals: 1 })],
    );
    expect(result).toMatchObject({ passed: false });
    expect(result!.actual).toMatch(/cannot reach PostgreSQL at/);
  });

  it('fails a key check on an SQL store and an SQL check on redis', async () => {
    const results = await runIntegrityChecks(
      'postgres',
      { name: 'orders', connection: 'postgres://shipshape@127.0.0.1:1/orders' },
      [{ name: 'key', key: 'k' }],
    );
    expect(results[0]).toMatchObject({
      kind: 'key',
      passed: false,
      actual: 'a `key` check needs a redis data store; orders is postgres',
    });
    const [onRedis] = await runIntegrityChecks('redis', { name: 'cache', connection: redisUrl() }, [
      sql('count', 'SELECT 1', { equals: 1 }),
    ]);
    expect(onRedis).toMatchObject({ kind: 'sql', passed: false });
    expect(onRedis!.actual).toContain('cannot run SQL checks');
  });
});

describe('Redis key checks', () => {
  const prefix = `t:integrity:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const key = (name: string) => `${prefix}${name}`;
  const target: Target = { name: 'cache', connection: redisUrl() };
  const big = 'x'.repeat(70 * 1024);

  async function withRedis<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = await RedisClient.connect(parseRedisConnection(redisUrl()), 'testing');
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  beforeAll(async () => {
    await withRedis(async (client) => {
      await client.command('SET', key('greeting'), 'hello');
      await client.command('SET', key('answer'), '42');
      await client.command('SET', key('big'), big);
      await client.command('RPUSH', key('queue'), 'a', 'b', 'c');
      await client.command('SADD', key('tags'), 'x', 'y');
      await client.command('ZADD', key('board'), 1, 'a', 2, 'b', 3, 'c', 4, 'd');
      await client.command('HSET', key('cart'), 'a', '1', 'b', '2', 'c', '3');
      await client.command('XADD', key('events'), '*', 'f', 'v');
      await client.command('XADD', key('events'), '*', 'f', 'w');
      await client.command('SELECT', 3);
      await client.command('SET', key('elsewhere'), 'db3');
    });
  });
  afterAll(async () => {
    await withRedis(async (client) => {
      const names = ['greeting', 'answer', 'big', 'queue', 'tags', 'board', 'cart', 'events'];
      await client.command('DEL', ...names.map(key));
      await client.command('SELECT', 3);
      await client.command('DEL', key('elsewhere'));
    });
  });

  it('reads type, size and short string values', async () => {
    expect(await redisKeyFacts(target, key('greeting'))).toEqual({
      exists: true,
      type: 'string',
      size: 5,
      value: 'hello',
    });
    expect(await redisKeyFacts(target, key('big'))).toEqual({
      exists: true,
      type: 'string',
      size: big.length,
      value: null,
    });
    const sizes = await Promise.all(
      ['queue', 'tags', 'board', 'cart', 'events'].map(async (name) => {
        const facts = await redisKeyFacts(target, key(name));
        return [facts.type, facts.size];
      }),
    );
    expect(sizes).toEqual([
      ['list', 3],
      ['set', 2],
      ['zset', 4],
      ['hash', 3],
      ['stream', 2],
    ]);
    expect(await redisKeyFacts(target, key('missing'))).toEqual({
      exists: false,
      type: null,
      size: null,
      value: null,
    });
  });

  it('uses the database the connection names', async () => {
    expect((await redisKeyFacts(target, key('elsewhere'))).exists).toBe(false);
    const db3 = { name: 'cache', connection: `${redisUrl()}/3` };
    expect(await redisKeyFacts(db3, key('elsewhere'))).toMatchObject({
      exists: true,
      value: 'db3',
    });
  });

  it('passes and fails key checks with readable expected and actual', async () => {
    const checks: IntegrityCheck[] = [
      { name: 'cart', key: key('cart'), type: 'hash', min: 3 },
      { name: 'cart too small', key: key('cart'), min: 4 },
      { name: 'queue as set', key: key('queue'), type: 'set' },
      { name: 'missing', key: key('missing') },
      { name: 'absent ok', key: key('missing'), exists: false },
      { name: 'present but should be absent', key: key('tags'), exists: false },
      { name: 'greeting', key: key('greeting'), equals: 'hello', max: 10 },
      { name: 'greeting wrong', key: key('greeting'), equals: 'bye' },
      { name: 'answer', key: key('answer'), equals: 42 },
      { name: 'hash value', key: key('cart'), equals: 'a' },
      { name: 'big value', key: key('big'), equals: 'x' },
      { name: 'events', key: key('events'), type: 'stream', min: 1, max: 2 },
    ];
    const results = await runIntegrityChecks('redis', target, checks);
    expect(
      results.map(({ name, kind, passed, expected, actual }) => [
        name,
        kind,
        passed,
        expected,
        actual,
      ]),
    ).toEqual([
      ['cart', 'key', true, 'exists, type hash, size >= 3', 'exists, type hash, size 3'],
      ['cart too small', 'key', false, 'exists, size >= 4', 'exists, type hash, size 3'],
      ['queue as set', 'key', false, 'exists, type set', 'exists, type list, size 3'],
      ['missing', 'key', false, 'exists', 'absent'],
      ['absent ok', 'key', true, 'absent', 'absent'],
      ['present but should be absent', 'key', false, 'absent', 'exists, type set, size 2'],
      [
        'greeting',
        'key',
        true,
        'exists, value = "hello", size <= 10',
        'exists, type string, value "hello", size 5',
      ],
      [
        'greeting wrong',
        'key',
        false,
        'exists, value = "bye"',
        'exists, type string, value "hello", size 5',
      ],
      ['answer', 'key', true, 'exists, value = 42', 'exists, type string, value "42", size 2'],
      ['hash value', 'key', false, 'exists, value = "a"', 'exists, type hash, size 3'],
      [
        'big value',
        'key',
        false,
        'exists, value = "x"',
        `exists, type string, value longer than 64 KiB, size ${big.length}`,
      ],
      [
        'events',
        'key',
        true,
        'exists, type stream, size between 1 and 2',
        'exists, type stream, size 2',
      ],
    ]);
  });

  it('reports an unreachable server as a failed check', async () => {
    const [result] = await runIntegrityChecks(
      'redis',
      { name: 'cache', connection: 'redis://127.0.0.1:1' },
      [{ name: 'k', key: 'k' }],
    );
    expect(result).toMatchObject({ kind: 'key', passed: false });
    expect(result!.actual).toMatch(/cannot reach redis at 127\.0\.0\.1:1/);
  });
});
