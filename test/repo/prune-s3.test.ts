/**
 * Forget and two-phase prune on the S3 backend (s3rver, a fake S3: no conditional puts, so
 * locks use write-then-list). What s3rver cannot show: real S3's Object Lock refusals.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileType, Repository, openS3Backend, type Backend } from '../../src/repo/index.js';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../helpers/s3rver.js';

const BUCKET = 'shipshape-prune';
const PASSWORD = 'correct horse battery staple';

let s3rver: RunningS3rver | undefined;

beforeAll(async () => {
  s3rver = await startS3rver([BUCKET]);
});

afterAll(async () => {
  await s3rver?.stop();
});

// eslint-disable-next-line @typescript-eslint/require-await
async function* once(data: Buffer): AsyncGenerator<Uint8Array> {
  yield data;
}

async function names(backend: Backend, type: FileType): Promise<string[]> {
  const found: string[] = [];
  for await (const { name } of backend.list(type)) found.push(name);
  return found.sort();
}

describe('repo prune on S3 (s3rver)', () => {
  it('marks, then deletes on the second run; the kept snapshot restores and checks clean', async () => {
    const backend = await openS3Backend({
      url: `s3://${BUCKET}/prune/repo`,
      endpoint: s3rver?.endpoint ?? '',
      credentials: S3RVER_CREDENTIALS,
    });
    const repo = await Repository.init(backend, PASSWORD, {
      kdf: { N: 1024, r: 8, p: 1 },
      chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
      packTargetBytes: 64 * 1024,
      workers: 1,
    });
    try {
      const gone = await repo.backupStream(once(randomBytes(150 * 1024)), {
        source: { type: 'stream', name: 'orders' },
      });
      const packsGone = await names(backend, FileType.data);
      const data = randomBytes(150 * 1024);
      const kept = await repo.backupStream(once(data), {
        source: { type: 'stream', name: 'orders' },
      });
      const forget = await repo.forget({ policy: { keepLast: 1 } });
      expect(forget.removed).toEqual([gone.snapshotId]);

      const marking = await repo.prune({ graceMs: 0 });
      expect(marking.marked.map((p) => p.pack).sort()).toEqual(packsGone);
      expect(await names(backend, FileType.marks)).toHaveLength(1);
      const deleting = await repo.prune({ graceMs: 0 });
      expect(deleting.deleted.map((p) => p.pack).sort()).toEqual(packsGone);
      expect(await names(backend, FileType.marks)).toEqual([]);
      for (const pack of packsGone) expect(await backend.stat(FileType.data, pack)).toBeUndefined();

      const parts: Buffer[] = [];
      await repo.restoreStream(
        kept.snapshotId,
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            parts.push(chunk);
            done();
          },
        }),
      );
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      expect((await repo.check({ readData: true })).problems).toEqual([]);
    } finally {
      await repo.close();
      await backend.close();
    }
  });
});
