/**
 * Locks across processes and backends: contenders in separate Node processes race for the
 * exclusive lock (released together by `runTogether`, a latch, not a sleep), on the fs backend
 * and on S3 (s3rver, which lacks conditional puts — the lock protocol does not need them).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isShipError } from '../../src/core/index.js';
import {
  LockErrorCode,
  acquireLock,
  listLocks,
  openFsBackend,
  openS3Backend,
  removeStaleLocks,
  type Backend,
} from '../../src/repo/index.js';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { runTogether } from '../helpers/workers.js';

const WORKER = 'test/repo/lock-worker.ts';
const CONTENDERS = 3;
const CREDENTIALS = S3RVER_CREDENTIALS;
const BUCKET = 'shipshape-locks';

interface Outcome {
  won: boolean;
  id?: string;
  code?: string;
}

/** Races CONTENDERS processes for the exclusive lock and checks exactly one won. */
async function race(target: object, backend: Backend): Promise<void> {
  const key = randomBytes(32);
  const args = Array.from({ length: CONTENDERS }, () => [
    JSON.stringify(target),
    key.toString('hex'),
  ]);
  const results = await runTogether(WORKER, args);
  for (const result of results) expect(result.code, result.stderr).toBe(0);
  const outcomes = results.map((result) => JSON.parse(result.lines.at(-1) ?? '{}') as Outcome);
  const winners = outcomes.filter((outcome) => outcome.won);
  expect(winners, JSON.stringify(outcomes)).toHaveLength(1);
  for (const loser of outcomes.filter((outcome) => !outcome.won)) {
    // LOCKED while the winner runs; STALE if it had already exited when the loser looked.
    expect([LockErrorCode.locked, LockErrorCode.stale]).toContain(loser.code);
  }
  // Losers withdrew their own locks: only the winner's is left, stale now its process is gone.
  const locks = await listLocks(backend, key);
  expect(locks.map((lock) => lock.id)).toEqual([winners[0]?.id]);
  expect(locks[0]).toMatchObject({ stale: true, staleReason: 'dead-pid' });
  expect(await removeStaleLocks(backend, key)).toHaveLength(1);
}

describe('locks on the fs backend', () => {
  it('lets exactly one of several racing processes take the exclusive lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-lock-race-'));
    const backend = openFsBackend(join(dir, 'repo'));
    try {
      await race({ kind: 'fs', dir: join(dir, 'repo') }, backend);
    } finally {
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('locks on the S3 backend (s3rver)', () => {
  let s3rver: RunningS3rver | undefined;
  let endpoint = '';

  beforeAll(async () => {
    s3rver = await startS3rver([BUCKET]);
    endpoint = s3rver.endpoint;
  });

  afterAll(async () => {
    await s3rver?.stop();
  });

  async function open(prefix: string): Promise<{ backend: Backend; url: string }> {
    const url = `s3://${BUCKET}/${prefix}/repo`;
    return { backend: await openS3Backend({ url, endpoint, credentials: CREDENTIALS }), url };
  }

  it('declares no conditional put, and shared locks coexist while exclusive ones conflict', async () => {
    const { backend } = await open('rules');
    expect(backend.capabilities.conditionalPut).toBe(false);
    const key = randomBytes(32);
    const a = await acquireLock(backend, key, { kind: 'shared', operation: 'backup' });
    const b = await acquireLock(backend, key, { kind: 'shared', operation: 'backup' });
    const error: unknown = await acquireLock(backend, key, {
      kind: 'exclusive',
      operation: 'prune',
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isShipError(error) && error.code).toBe(LockErrorCode.locked);
    expect((await listLocks(backend, key)).map((lock) => lock.id).sort()).toEqual(
      [a.id, b.id].sort(),
    );
    await a.release();
    await b.release();
    await (await acquireLock(backend, key, { kind: 'exclusive', operation: 'prune' })).release();
    expect(await listLocks(backend, key)).toEqual([]);
    await backend.close();
  });

  it('lets exactly one of several racing processes take the exclusive lock', async () => {
    const { backend, url } = await open('race');
    try {
      await race({ kind: 's3', url, endpoint }, backend);
    } finally {
      await backend.close();
    }
  });
});
