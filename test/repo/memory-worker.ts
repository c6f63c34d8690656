/**
 * Backs up a generated pseudo-random stream of `MiB` mebibytes (made on the fly, never stored)
 * through `Repository.backupStream` into a temporary repository with the repository defaults
 * (1 MiB average chunks, 32 MiB packs), restores it and compares SHA-256 digests, then runs
 * `check --read-data`. Prints one JSON line: bytes, digests match, check result, wall times
 * and peak RSS / heap.
 *
 * Run under a small heap so that holding the stream (or the index, or a pack list) in memory
 * fails loudly:
 *
 *   node --max-old-space-size=96 --import tsx test/repo/memory-worker.ts 2048
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { Repository, openFsBackend } from '../../src/repo/index.js';

const mib = Number(process.argv[2] ?? 64);
if (!Number.isInteger(mib) || mib < 1) throw new Error(`MiB must be a positive integer: ${mib}`);
const PIECE = 1024 * 1024;

let peakRss = 0;
let peakHeap = 0;
const sample = () => {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed);
};
const sampler = setInterval(sample, 25);

/** AES-256-CTR keystream: incompressible, deterministic, and nothing of it is kept. */
async function* generate(digest: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16));
  const zero = Buffer.alloc(PIECE);
  for (let i = 0; i < mib; i++) {
    await Promise.resolve();
    const piece = cipher.update(zero);
    digest.update(piece);
    yield piece;
  }
}

const dir = await mkdtemp(join(tmpdir(), 'shipshape-memory-'));
try {
  const repo = await Repository.init(openFsBackend(join(dir, 'repo')), 'memory-test', {
    kdf: { N: 1024, r: 8, p: 1 },
  });
  try {
    const started = performance.now();
    const sourceDigest = createHash('sha256');
    const backup = await repo.backupStream(generate(sourceDigest), {
      source: { type: 'stream', name: 'memory-test' },
    });
    const backupMs = performance.now() - started;
    sample();
    const backupPeakRss = peakRss;

    const restoredDigest = createHash('sha256');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        restoredDigest.update(chunk);
        callback();
      },
    });
    const restoreStarted = performance.now();
    const restore = await repo.restoreStream(backup.snapshotId, sink);
    const restoreMs = performance.now() - restoreStarted;
    sample();
    // The check reads every pack whole under the same heap limit.
    const checkStarted = performance.now();
    const report = await repo.check({ readData: true });
    const checkMs = performance.now() - checkStarted;
    sample();
    process.stdout.write(
      `${JSON.stringify({
        mib,
        bytesRead: backup.bytesRead,
        bytesWritten: restore.bytesWritten,
        match: sourceDigest.digest('hex') === restoredDigest.digest('hex'),
        backupMs: Math.round(backupMs),
        restoreMs: Math.round(restoreMs),
        checkOk: report.ok && report.packs.read === report.packs.total,
        checkMs: Math.round(checkMs),
        backupPeakRss,
        peakRss,
        peakHeap,
      })}\n`,
    );
  } finally {
    await repo.close();
  }
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
