import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { ShipError } from '../../src/core/index.js';

import {
  RedisClient,
  parseRedisConnection,
  redisDriver,
  repositoryReader,
  repositorySink,
  startRedisServer,
  type Target,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend } from '../../src/repo/index.js';
import { redisUrl } from '../helpers/services.js';

import { FAST, PASSWORD, runDriverConformance, type MadeTarget } from './conformance.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'shipshape-redis-test-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A fresh, empty redis-server of its own (a restore target is a whole server). */
async function emptyServer(): Promise<MadeTarget> {
  const dir = await mkdtemp(join(base, 'server-'));
  const server = await startRedisServer(dir, 'dump.rdb');
  return {
    target: { name: 'cache', connection: server.url },
    drop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function withClient<T>(target: Target, fn: (client: RedisClient) => Promise<T>): Promise<T> {
  const client = await RedisClient.connect(parseRedisConnection(target.connection), 'testing');
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** The target's URL with another ACL user and password. */
function withUser(target: Target, user: string, password: string): string {
  const url = new URL(target.connection);
  url.username = user;
  url.password = password;
  return url.toString();
}

/** The ACL rules docs/datastores/redis.md gives for a backup user. */
const BACKUP_ACL =
  '~* +auth +info +time +replconf +psync +select +scan +type +pexpiretime +get +lrange +smembers +hgetall +zrange +xrange +dump +function|list'.split(
    ' ',
  );

const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/**
 * Every type in its small (listpack/intset) and large (quicklist/hashtable/skiplist) encodings,
 * binary and unicode keys and values, a 2 MiB value, integer-encoded strings, TTLs, a stream,
 * 5,000 keys in db1 and a few in db7.
 */
async function seed(target: Target): Promise<void> {
  await withClient(target, async (c) => {
    const ops: Promise<unknown>[] = [];
    ops.push(c.command('SET', Buffer.from([0, 0xff, 0x0d, 0x0a, 0x20]), EVERY_BYTE));
    ops.push(c.command('SET', 'ключ 🚀 中文', 'ünïcødé ✓'));
    ops.push(c.command('SET', 'big', Buffer.alloc(2 * 1024 * 1024, 'abcdefghij')));
    ops.push(c.command('SET', 'int', '1234567890'));
    ops.push(c.command('SET', 'empty', ''));
    ops.push(c.command('SET', 'ttl', 'expires later', 'EX', 3600));
    ops.push(c.command('RPUSH', 'list:small', 'a', EVERY_BYTE, '3'));
    ops.push(
      c.command('RPUSH', 'list:big', ...Array.from({ length: 3000 }, (_, i) => `item-${i}`)),
    );
    ops.push(c.command('SADD', 'set:ints', 1, 2, 3, -7, 100000));
    ops.push(c.command('SADD', 'set:small', 'x', 'y', 'ü'));
    ops.push(c.command('SADD', 'set:big', ...Array.from({ length: 1000 }, (_, i) => `m${i}`)));
    ops.push(c.command('HSET', 'hash:small', 'f1', 'v1', 'f2', EVERY_BYTE));
    ops.push(
      c.command(
        'HSET',
        'hash:big',
        ...Array.from({ length: 1000 }, (_, i) => [`f${i}`, `v${i}`]).flat(),
      ),
    );
    ops.push(c.command('ZADD', 'zset:small', 1.5, 'a', -2, 'b', 'inf', 'c'));
    ops.push(
      c.command(
        'ZADD',
        'zset:big',
        ...Array.from({ length: 500 }, (_, i) => [i / 7, `z${i}`]).flat(),
      ),
    );
    ops.push(c.command('XADD', 'stream', '1-1', 'k', 'v', 'bin', EVERY_BYTE));
    ops.push(c.command('XADD', 'stream', '2-0', 'k', 'w'));
    ops.push(c.command('PEXPIRE', 'hash:small', 7_200_000));
    ops.push(
      c.command(
        'FUNCTION',
        'LOAD',
        "#!lua name=shipshape\nredis.register_function('ship_echo', function(keys, args) return args[1] end)",
      ),
    );
    await Promise.all(ops);
    await c.command('SELECT', 1);
    const many: Promise<unknown>[] = [];
    for (let i = 0; i < 5000; i++) many.push(c.command('SET', `key:${i}`, `value:${i}`));
    await Promise.all(many);
    await c.command('SELECT', 7);
    await c.command('SET', 'seven', '7');
    await c.command('LPUSH', 'seven:list', 'a');
  });
}

const emptyBin = '/nonexistent/redis-server';

runDriverConformance({
  name: 'redis',
  driver: redisDriver,
  empty: emptyServer,
  seed,
  change: (target) =>
    withClient(target, async (c) => {
      await c.command('SELECT', 1);
      await c.command('SET', 'key:17', 'changed');
    }).then(() => undefined),
  expectEntries: ['db0', 'db1', 'db7', 'functions'],
  faults: [
    {
      name: 'the server is unreachable',
      code: 'SHIP_DATASTORE_UNREACHABLE',
      secret: 'canary-unreachable-pw',
      make: () =>
        Promise.resolve({
          target: { name: 'cache', connection: 'redis://:canary-unreachable-pw@127.0.0.1:1' },
          drop: () => Promise.resolve(),
        }),
    },
    {
      name: 'the password is wrong',
      code: 'SHIP_DATASTORE_AUTH_FAILED',
      secret: 'canary-wrong-pw',
      make: async () => {
        const made = await emptyServer();
        const url = new URL(made.target.connection);
        url.password = 'canary-wrong-pw';
        return { target: { ...made.target, connection: url.toString() }, drop: made.drop };
      },
    },
    {
      name: 'no password is given to a server that requires one',
      code: 'SHIP_DATASTORE_AUTH_FAILED',
      make: async () => {
        const made = await emptyServer();
        const url = new URL(made.target.connection);
        url.password = '';
        return { target: { ...made.target, connection: url.toString() }, drop: made.drop };
      },
    },
    {
      name: 'the ACL user may not run PSYNC',
      code: 'SHIP_DATASTORE_PERMISSION_DENIED',
      secret: 'canary-acl-pw',
      make: async () => {
        const made = await emptyServer();
        await withClient(made.target, (c) =>
          c.command('ACL', 'SETUSER', 'nopsync', 'on', '>canary-acl-pw', '~*', '+@all', '-psync'),
        );
        return {
          target: { ...made.target, connection: withUser(made.target, 'nopsync', 'canary-acl-pw') },
          drop: made.drop,
        };
      },
    },
    {
      name: 'redis-server (needed to fingerprint the RDB) is not installed',
      code: 'SHIP_DATASTORE_TOOL_MISSING',
      make: async () => {
        const made = await emptyServer();
        vi.stubEnv('SHIPSHAPE_REDIS_SERVER', emptyBin);
        return made;
      },
      after: () => {
        vi.unstubAllEnvs();
      },
    },
  ],
});

describe('redis driver specifics', () => {
  it('records the replication offset and server time; writes after the point are not in the backup', async () => {
    const source = await emptyServer();
    const dir = await mkdtemp(join(base, 'repo-'));
    const repo = await Repository.init(openFsBackend(join(dir, 'r')), PASSWORD, FAST);
    const target = await emptyServer();
    try {
      await seed(source.target);
      const before = await redisDriver.fingerprint(source.target, 'full');
      const sink = repositorySink(repo, { name: 'cache', kind: 'redis' });
      const outcome = await redisDriver.backup(source.target, sink, {
        fingerprint: 'full',
        onConsistentPoint: async () => {
          await withClient(source.target, async (c) => {
            await c.command('SET', 'written-after-the-point', 'x');
            await c.command('DEL', 'big');
          });
        },
      });
      expect(outcome.consistentPoint.kind).toBe('redis-repl-offset');
      expect(outcome.consistentPoint.value).toMatch(/^[0-9a-f]{40}:\d+$/);
      expect(outcome.identity.kind).toBe('redis-run-id');
      expect(outcome.identity.id).toMatch(/^[0-9a-f]{40}$/);
      expect(outcome.toolVersions['rdb']).toMatch(/^\d+$/);
      expect(outcome.fingerprint?.digest).toBe(before.digest);
      expect((await redisDriver.fingerprint(source.target, 'full')).digest).not.toBe(before.digest);

      await redisDriver.restore(await repositoryReader(repo, 'latest'), target.target);
      await withClient(target.target, async (c) => {
        expect(await c.command('EXISTS', 'written-after-the-point')).toBe(0);
        expect(await c.command('STRLEN', 'big')).toBe(2 * 1024 * 1024);
        const ttl = Number(await c.command('TTL', 'ttl'));
        expect(ttl).toBeGreaterThan(3000);
        expect(ttl).toBeLessThanOrEqual(3600);
        expect(await c.command('GET', Buffer.from([0, 0xff, 0x0d, 0x0a, 0x20]))).toEqual(
          EVERY_BYTE,
        );
        expect(await c.text('FCALL', 'ship_echo', 0, 'hello')).toBe('hello');
      });
    } finally {
      await repo.close();
      await target.drop();
      await source.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a server that goes down mid-transfer fails the backup (retryable) and writes no snapshot', async () => {
    const source = await emptyServer();
    const dir = await mkdtemp(join(base, 'repo-'));
    const repo = await Repository.init(openFsBackend(join(dir, 'r')), PASSWORD, FAST);
    try {
      await seed(source.target);
      // Slow the server's RDB save down (a testing knob: microseconds per key), so that the
      // shutdown below lands while the RDB is being produced, not after it was sent.
      await withClient(source.target, (c) =>
        c.command('CONFIG', 'SET', 'rdb-key-save-delay', '200000'),
      );
      const sink = repositorySink(repo, { name: 'cache', kind: 'redis' });
      const error = await redisDriver
        .backup(source.target, sink, {
          fingerprint: 'off',
          onConsistentPoint: async () => {
            // The restart: SHUTDOWN NOSAVE kills the save in progress and drops the replica link.
            await withClient(source.target, (c) => c.command('SHUTDOWN', 'NOSAVE')).catch(
              () => undefined,
            );
          },
        })
        .then(
          () => undefined,
          (e: unknown) => e as ShipError,
        );
      expect(error, error?.message).toMatchObject({
        code: 'SHIP_DATASTORE_UNREACHABLE',
        retryable: true,
      });
      expect(await repo.snapshots()).toEqual([]);
    } finally {
      await repo.close();
      await source.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('backs up and fingerprints as an ACL user with only the documented permissions', async () => {
    const source = await emptyServer();
    const dir = await mkdtemp(join(base, 'repo-'));
    const repo = await Repository.init(openFsBackend(join(dir, 'r')), PASSWORD, FAST);
    try {
      await seed(source.target);
      await withClient(source.target, (c) =>
        c.command('ACL', 'SETUSER', 'backup', 'on', '>backup-pw', ...BACKUP_ACL),
      );
      const limited: Target = {
        name: 'cache',
        connection: withUser(source.target, 'backup', 'backup-pw'),
      };
      const live = await redisDriver.fingerprint(limited, 'full');
      expect(live.digest).toBe((await redisDriver.fingerprint(source.target, 'full')).digest);
      const outcome = await redisDriver.backup(
        limited,
        repositorySink(repo, { name: 'cache', kind: 'redis' }),
        { fingerprint: 'full' },
      );
      expect(outcome.fingerprint?.digest).toBe(live.digest);
      // One permission fewer is refused with a clear code.
      await withClient(source.target, (c) => c.command('ACL', 'SETUSER', 'backup', '-pexpiretime'));
      await expect(redisDriver.fingerprint(limited, 'full')).rejects.toMatchObject({
        code: 'SHIP_DATASTORE_PERMISSION_DENIED',
      });
    } finally {
      await repo.close();
      await source.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without redis-server, backs up with fingerprint off and names the package otherwise', async () => {
    const source = await emptyServer();
    const dir = await mkdtemp(join(base, 'repo-'));
    const repo = await Repository.init(openFsBackend(join(dir, 'r')), PASSWORD, FAST);
    vi.stubEnv('SHIPSHAPE_REDIS_SERVER', emptyBin);
    try {
      await withClient(source.target, (c) => c.command('SET', 'k', 'v'));
      const sink = repositorySink(repo, { name: 'cache', kind: 'redis' });
      const outcome = await redisDriver.backup(source.target, sink, { fingerprint: 'off' });
      expect(outcome.fingerprint).toBeUndefined();
      const chunks: Buffer[] = [];
      await (
        await repositoryReader(repo, outcome.snapshot.snapshotId)
      ).stream(
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            chunks.push(chunk);
            done();
          },
        }),
      );
      expect(Buffer.concat(chunks).subarray(0, 5).toString()).toBe('REDIS');
      const error = await redisDriver.backup(source.target, sink, { fingerprint: 'counts' }).then(
        () => undefined,
        (e: unknown) => e as ShipError,
      );
      expect(error).toMatchObject({ code: 'SHIP_DATASTORE_TOOL_MISSING', exitCode: 3 });
      expect(error?.message).toContain('redis-server is not installed');
      expect(error?.hint).toContain('apt-get install redis-server');
      expect(error?.hint).toContain('brew install redis');
      expect(await repo.snapshots()).toHaveLength(1);
    } finally {
      vi.unstubAllEnvs();
      await repo.close();
      await source.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a snapshot of another kind', async () => {
    const target = await emptyServer();
    try {
      const reader = {
        snapshot: {
          id: 'abc',
          manifest: {
            source: { type: 'datastore', kind: 'postgres' },
            content: { type: 'stream' },
          },
        },
        stream: () => Promise.resolve(),
        tree: () => Promise.resolve(),
      } as unknown as Parameters<typeof redisDriver.restore>[0];
      await expect(redisDriver.restore(reader, target.target)).rejects.toMatchObject({
        code: 'SHIP_DATASTORE_WRONG_SNAPSHOT',
        exitCode: 2,
      });
    } finally {
      await target.drop();
    }
  });

  it('rejects TLS and non-redis connection strings as usage errors', () => {
    expect(() => parseRedisConnection('rediss://cache:6380')).toThrow(
      expect.objectContaining({ code: 'SHIP_DATASTORE_BAD_CONNECTION', exitCode: 2 }),
    );
    expect(() => parseRedisConnection('http://cache')).toThrow(
      expect.objectContaining({ code: 'SHIP_DATASTORE_BAD_CONNECTION' }),
    );
  });
});

describe('redis driver against the test service', () => {
  it('backs up the shared Redis 7 server (scripts/services.sh)', async () => {
    const target: Target = { name: 'cache', connection: redisUrl() };
    const dir = await mkdtemp(join(base, 'repo-'));
    const repo = await Repository.init(openFsBackend(join(dir, 'r')), PASSWORD, FAST);
    try {
      const outcome = await redisDriver.backup(
        target,
        repositorySink(repo, { name: 'cache', kind: 'redis' }),
      );
      expect(outcome.identity).toEqual(await redisDriver.identity(target));
      expect(outcome.identity.version).toMatch(/^7\./);
      expect(outcome.fingerprint?.mode).toBe('counts');
      expect(outcome.snapshot.bytesRead).toBeGreaterThan(0);
    } finally {
      await repo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
