import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ExitCode, isShipError, type ShipError } from '../core/index.js';

import { FileType, openFsBackend, type Backend, type FsBackend } from './backend/index.js';
import { sealBlob } from './crypto/index.js';
import {
  LOCK_BLOB_TYPE,
  LOCK_FORMAT,
  LockErrorCode,
  acquireLock,
  listLocks,
  removeStaleLocks,
  type AcquireLockOptions,
  type LockInfo,
  type LockRecord,
} from './lock.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const MIN = 60_000;

let dir = '';
let backend: FsBackend;
const key = randomBytes(32);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipshape-lock-'));
  backend = openFsBackend(join(dir, 'repo'));
});

afterEach(async () => {
  await backend.close();
  await rm(dir, { recursive: true, force: true });
});

/** A clock the test moves by hand. */
function clock(start = T0): { now: () => Date; set: (ms: number) => void } {
  let t = start;
  return { now: () => new Date(t), set: (ms) => (t = ms) };
}

const alive = (): boolean => true;
const dead = (): boolean => false;

function opts(overrides: Partial<AcquireLockOptions> = {}): AcquireLockOptions {
  return {
    kind: 'shared',
    operation: 'backup',
    host: 'db1',
    holder: 'ana',
    pid: 4242,
    isPidAlive: alive,
    now: () => new Date(T0),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  try {
    await promise;
  } catch (error) {
    if (isShipError(error)) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

async function lockIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const { name } of backend.list(FileType.locks)) ids.push(name);
  return ids.sort();
}

describe('acquireLock', () => {
  it('lets two shared locks coexist (two backups at once)', async () => {
    const a = await acquireLock(backend, key, opts());
    const b = await acquireLock(backend, key, opts({ pid: 4243 }));
    expect(await lockIds()).toEqual([a.id, b.id].sort());
    const locks = await listLocks(backend, key, { now: () => new Date(T0), isPidAlive: alive });
    expect(locks.every((lock) => lock.readable && lock.kind === 'shared' && !lock.stale)).toBe(
      true,
    );
    await a.release();
    await b.release();
    expect(await lockIds()).toEqual([]);
  });

  it('refuses an exclusive lock while a shared one is held, naming the holder', async () => {
    const shared = await acquireLock(backend, key, opts());
    const error = await rejection(
      acquireLock(
        backend,
        key,
        opts({ kind: 'exclusive', operation: 'prune', pid: 77, now: () => new Date(T0 + 5 * MIN) }),
      ),
    );
    expect(error.code).toBe(LockErrorCode.locked);
    expect(error.exitCode).toBe(ExitCode.lockHeld);
    expect(error.message).toContain('is locked; an exclusive lock for prune was not taken');
    expect(error.message).toContain('shared lock');
    expect(error.message).toContain('by ana on db1 (pid 4242) for backup');
    expect(error.message).toContain('created 5m ago, expires in 25m');
    expect(error.message).toContain('looks alive');
    expect(error.hint).toMatch(/wait/);
    // The refused locker withdrew its own lock.
    expect(await lockIds()).toEqual([shared.id]);
    await shared.release();
  });

  it('refuses a shared lock while an exclusive one is held', async () => {
    const exclusive = await acquireLock(
      backend,
      key,
      opts({ kind: 'exclusive', operation: 'prune', holder: 'ops', host: 'db2', pid: 9 }),
    );
    const error = await rejection(
      acquireLock(backend, key, opts({ operation: 'restore', now: () => new Date(T0 + MIN) })),
    );
    expect(error.code).toBe(LockErrorCode.locked);
    expect(error.exitCode).toBe(13);
    expect(error.message).toContain('exclusive lock');
    expect(error.message).toContain('by ops on db2 (pid 9) for prune');
    expect(error.message).toContain('a shared lock for restore was not taken');
    expect(await lockIds()).toEqual([exclusive.id]);
    await exclusive.release();
  });

  it('refuses a second exclusive lock', async () => {
    const first = await acquireLock(backend, key, opts({ kind: 'exclusive', operation: 'prune' }));
    const error = await rejection(
      acquireLock(backend, key, opts({ kind: 'exclusive', now: () => new Date(T0 + 1) })),
    );
    expect(error.code).toBe(LockErrorCode.locked);
    await first.release();
  });

  it('lets exactly one of two concurrent exclusive lockers win, without livelock', async () => {
    const results = await Promise.allSettled([
      acquireLock(
        backend,
        key,
        opts({ kind: 'exclusive', operation: 'prune', now: () => new Date() }),
      ),
      acquireLock(
        backend,
        key,
        opts({ kind: 'exclusive', operation: 'prune', now: () => new Date() }),
      ),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0]?.reason as ShipError).code).toBe(LockErrorCode.locked);
    const winner = won[0]?.value;
    expect(await lockIds()).toEqual([winner?.id]);
    await winner?.release();
  });

  it('reports an expired lock as stale, blocks on it, and acquires once it is removed', async () => {
    await acquireLock(backend, key, opts({ kind: 'exclusive', operation: 'prune', ttlMs: MIN }));
    const later = (): Date => new Date(T0 + 3 * MIN);
    const error = await rejection(acquireLock(backend, key, opts({ now: later })));
    expect(error.code).toBe(LockErrorCode.stale);
    expect(error.exitCode).toBe(ExitCode.lockHeld);
    expect(error.message).toContain('stale lock');
    expect(error.message).toContain('expired 2m ago');
    expect(error.hint).toContain('repo unlock');

    const listed = await listLocks(backend, key, { now: later, isPidAlive: alive });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ stale: true, staleReason: 'expired' });

    const removed = await removeStaleLocks(backend, key, { now: later, isPidAlive: alive });
    expect(removed.map((lock) => lock.staleReason)).toEqual(['expired']);
    const lock = await acquireLock(backend, key, opts({ now: later }));
    await lock.release();
  });

  it('judges a lock on this host with a dead pid stale, on another host not until expiry', async () => {
    await acquireLock(backend, key, opts({ host: 'db1', pid: 111 }));
    await acquireLock(backend, key, opts({ host: 'db2', pid: 222 }));
    const now = (): Date => new Date(T0 + MIN);
    const locks = await listLocks(backend, key, { host: 'db1', isPidAlive: dead, now });
    const byPid = (pid: number): LockInfo | undefined =>
      locks.find((lock) => lock.readable && lock.pid === pid);
    expect(byPid(111)).toMatchObject({ stale: true, staleReason: 'dead-pid' });
    expect(byPid(111)?.staleDetail).toBe('pid 111 is not running on db1');
    expect(byPid(222)).toMatchObject({ stale: false });

    const afterExpiry = await listLocks(backend, key, {
      host: 'db1',
      isPidAlive: dead,
      now: () => new Date(T0 + 31 * MIN),
    });
    expect(afterExpiry.every((lock) => lock.stale && lock.staleReason === 'expired')).toBe(true);
  });

  it('uses process.kill(pid, 0) semantics by default', async () => {
    const lock = await acquireLock(backend, key, { kind: 'shared', operation: 'check' });
    const [mine] = await listLocks(backend, key);
    expect(mine).toMatchObject({ stale: false, pid: process.pid });
    await lock.release();
  });

  it('removes only stale locks unless forced', async () => {
    const live = await acquireLock(backend, key, opts());
    await acquireLock(backend, key, opts({ pid: 5, isPidAlive: dead }));
    const env = { host: 'db1', now: () => new Date(T0), isPidAlive: (pid: number) => pid !== 5 };
    const removed = await removeStaleLocks(backend, key, env);
    expect(removed).toHaveLength(1);
    expect(await lockIds()).toEqual([live.id]);
    expect(await removeStaleLocks(backend, key, env)).toEqual([]);
    const forced = await removeStaleLocks(backend, key, { ...env, force: true });
    expect(forced.map((lock) => lock.id)).toEqual([live.id]);
    expect(await lockIds()).toEqual([]);
  });
});

describe('HeldLock', () => {
  it('refresh extends the expiry from the injected clock', async () => {
    const c = clock();
    const lock = await acquireLock(backend, key, opts({ now: c.now, ttlMs: 10 * MIN }));
    expect(lock.record.expires).toBe(new Date(T0 + 10 * MIN).toISOString());
    c.set(T0 + 9 * MIN);
    await lock.refresh();
    expect(lock.record.refreshed).toBe(new Date(T0 + 9 * MIN).toISOString());
    expect(lock.record.expires).toBe(new Date(T0 + 19 * MIN).toISOString());
    c.set(T0 + 15 * MIN);
    const [listed] = await listLocks(backend, key, { now: c.now, isPidAlive: alive });
    expect(listed).toMatchObject({ stale: false, expires: lock.record.expires });
    await lock.release();
  });

  it('refreshes on its own every ttl/3 until released', async () => {
    const c = clock();
    const lock = await acquireLock(backend, key, opts({ now: c.now, ttlMs: 30 }));
    c.set(T0 + MIN);
    await vi.waitFor(() => {
      expect(lock.record.refreshed).toBe(new Date(T0 + MIN).toISOString());
    });
    await lock.release();
    expect(await lockIds()).toEqual([]);
  });

  it('release removes the lock and is idempotent', async () => {
    const lock = await acquireLock(backend, key, opts());
    await lock.release();
    await lock.release();
    expect(await lockIds()).toEqual([]);
    await expect(lock.refresh()).rejects.toThrow(/released/);
  });

  it('refresh fails loudly when the lock was force-removed', async () => {
    const lock = await acquireLock(backend, key, opts());
    await removeStaleLocks(backend, key, { force: true });
    const error = await rejection(lock.refresh());
    expect(error.code).toBe(LockErrorCode.lost);
    expect(await lockIds()).toEqual([]);
    await lock.release();
  });
});

describe('tampered locks', () => {
  it('reports a modified lock as unreadable, blocks on it, and unlock removes it', async () => {
    const held = await acquireLock(backend, key, opts({ kind: 'exclusive', operation: 'prune' }));
    const path = backend.pathOf(FileType.locks, held.id);
    const bytes = await readFile(path);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    await writeFile(path, bytes);

    const [listed] = await listLocks(backend, key);
    expect(listed).toMatchObject({ readable: false, stale: true, staleReason: 'unreadable' });
    expect(listed?.staleDetail).toMatch(/cannot be trusted \(.*authentication failed/);

    const error = await rejection(acquireLock(backend, key, opts()));
    expect(error.code).toBe(LockErrorCode.stale);
    expect(error.message).toContain('unreadable, so treated as exclusive');
    expect(error.hint).toContain('repo unlock');

    const removed = await removeStaleLocks(backend, key);
    expect(removed.map((lock) => lock.id)).toEqual([held.id]);
    await (await acquireLock(backend, key, opts())).release();
  });

  it('does not trust a lock sealed with another key, or a lock renamed', async () => {
    const foreign = await acquireLock(backend, randomBytes(32), opts());
    const [listed] = await listLocks(backend, key);
    expect(listed).toMatchObject({ id: foreign.id, readable: false });
    await foreign.release();

    const mine = await acquireLock(backend, key, opts());
    const other = 'f'.repeat(64);
    await backend.put(FileType.locks, other, await backend.get(FileType.locks, mine.id));
    const locks = await listLocks(backend, key);
    expect(locks.find((lock) => lock.id === other)?.staleDetail).toMatch(/names itself/);
    expect(locks.find((lock) => lock.id === mine.id)?.readable).toBe(true);

    // Authentic, but not a lock (say a snapshot manifest copied into locks/).
    const notALock = 'c'.repeat(64);
    const payload = Buffer.from(JSON.stringify({ version: 1, source: 'orders' }), 'utf8');
    await backend.put(
      FileType.locks,
      notALock,
      sealBlob(key, { type: LOCK_BLOB_TYPE, compressed: false }, payload),
    );
    const after = await listLocks(backend, key);
    expect(after.find((lock) => lock.id === notALock)?.staleDetail).toMatch(/not a lock: /);
  });
});

describe('tie-break between racing lockers', () => {
  const RACER = 'b'.repeat(64);

  /** Writes a racer's lock as another process would, at the given stage of its acquire. */
  async function plantRacer(createdMs: number, held: boolean): Promise<void> {
    const record: LockRecord = {
      format: LOCK_FORMAT,
      id: RACER,
      kind: 'exclusive',
      operation: 'prune',
      holder: 'bo',
      host: 'db9',
      pid: 31337,
      created: new Date(createdMs).toISOString(),
      refreshed: new Date(createdMs).toISOString(),
      expires: new Date(createdMs + 30 * MIN).toISOString(),
      held,
    };
    const payload = Buffer.from(JSON.stringify(record), 'utf8');
    await backend.put(
      FileType.locks,
      RACER,
      sealBlob(key, { type: LOCK_BLOB_TYPE, compressed: false }, payload),
    );
  }

  /** The fs backend, counting listings; the racer has withdrawn by our second listing. */
  function racingBackend(): { backend: Backend; lists: () => number } {
    let lists = 0;
    const wrapped: Backend = {
      location: backend.location,
      capabilities: backend.capabilities,
      put: (type, name, data, options) => backend.put(type, name, data, options),
      get: (type, name, range) => backend.get(type, name, range),
      stat: (type, name) => backend.stat(type, name),
      remove: (type, name) => backend.remove(type, name),
      close: () => Promise.resolve(),
      async *list(type) {
        lists++;
        if (lists === 2) await backend.remove(FileType.locks, RACER);
        for await (const info of backend.list(type)) yield info;
      },
    };
    return { backend: wrapped, lists: () => lists };
  }

  it('the older locker waits for a younger pending racer to withdraw, then wins', async () => {
    await plantRacer(T0 + 1000, false);
    const racing = racingBackend();
    const lock = await acquireLock(racing.backend, key, opts({ kind: 'exclusive' }));
    expect(racing.lists()).toBe(2);
    expect(lock.record.held).toBe(true);
    expect(await lockIds()).toEqual([lock.id]);
    await lock.release();
  });

  it('the younger locker withdraws at once before an older pending racer', async () => {
    await plantRacer(T0 - 1000, false);
    const racing = racingBackend();
    const error = await rejection(acquireLock(racing.backend, key, opts({ kind: 'exclusive' })));
    expect(error.code).toBe(LockErrorCode.locked);
    expect(racing.lists()).toBe(1);
  });

  it('never waits for a racer that already holds its lock, even a younger one', async () => {
    await plantRacer(T0 + 1000, true);
    const racing = racingBackend();
    const error = await rejection(acquireLock(racing.backend, key, opts({ kind: 'exclusive' })));
    expect(error.code).toBe(LockErrorCode.locked);
    expect(racing.lists()).toBe(1);
  });
});
