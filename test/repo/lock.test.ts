/**
 * Locks across processes and backends: contenders in separate Node processes race for the
 * exclusive lock (released together by `runTogether`, a latch, not a sleep), on the fs backend
 * and on S3 (s3rver, which lacks conditional puts — the lock protocol does not need them).
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
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
import { runTogether } from '../helpers/workers.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = 'test/repo/lock-worker.ts';
const CONTENDERS = 3;
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
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

/** s3rver in a child Node, as in backend-s3.test.ts (legacy provider for its DES tokens). */
const S3RVER_SCRIPT = `
const S3rver = require('s3rver');
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[1] });
server.run().then((address) => console.log(JSON.stringify(address)));
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
`;

describe('locks on the S3 backend (s3rver)', () => {
  let server: ChildProcess | undefined;
  let directory = '';
  let endpoint = '';

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'shipshape-lock-s3rver-'));
    const child = spawn(
      process.execPath,
      ['--openssl-legacy-provider', '-e', S3RVER_SCRIPT, directory],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    server = child;
    const lines = createInterface({ input: child.stdout });
    const first = await Promise.race([
      once(lines, 'line').then(([line]) => String(line)),
      once(child, 'exit').then(([code]) => {
        throw new Error(`s3rver exited with ${String(code)} before listening`);
      }),
    ]);
    endpoint = `http://127.0.0.1:${(JSON.parse(first) as { port: number }).port}`;
    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    client.destroy();
  });

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await exited;
    }
    if (directory !== '') await rm(directory, { recursive: true, force: true });
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
