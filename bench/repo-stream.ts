/**
 * Backs up and restores a generated stream with the repository defaults (1 MiB chunks, 32 MiB
 * packs, zstd 3) and prints wall time, throughput and peak RSS, then backs the same stream up again (all
 * duplicates). Not run by `npm test`.
 *
 *   node --max-old-space-size=96 --import tsx bench/repo-stream.ts [MiB] [random|text] [zstd level]
 */
import { createCipheriv } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { Repository, openFsBackend } from '../src/repo/index.js';

const mib = Number(process.argv[2] ?? 256);
const kind = process.argv[3] === 'text' ? 'text' : 'random';
const level = Number(process.argv[4] ?? 3);
const PIECE = 1024 * 1024;

let peakRss = 0;
let peakBuffers = 0;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakBuffers = Math.max(peakBuffers, usage.arrayBuffers);
}, 50);

/** Deterministic input: AES-CTR keystream (incompressible) or pgbench-like text rows. */
async function* generate(): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 1), Buffer.alloc(16));
  const zero = Buffer.alloc(PIECE);
  let row = 0;
  for (let i = 0; i < mib; i++) {
    await Promise.resolve();
    if (kind === 'random') {
      yield cipher.update(zero);
    } else {
      let text = '';
      while (text.length < PIECE) {
        text += `${row}\t${row % 100_000}\t${(row * 7919) % 1_000_003}\t                                        \n`;
        row++;
      }
      yield Buffer.from(text.slice(0, PIECE));
    }
  }
}

const dir = await mkdtemp(join(tmpdir(), 'shipshape-bench-'));
try {
  const backend = openFsBackend(join(dir, 'repo'));
  const repo = await Repository.init(backend, 'bench', {
    kdf: { N: 1024, r: 8, p: 1 },
    compressionLevel: level,
  });
  const started = performance.now();
  const result = await repo.backupStream(generate(), { source: { type: 'stream' } });
  const backupMs = performance.now() - started;
  const backupRss = peakRss;
  peakRss = 0;
  const restoreStarted = performance.now();
  let restored = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      restored += chunk.length;
      callback();
    },
  });
  await repo.restoreStream(result.snapshotId, sink);
  const restoreMs = performance.now() - restoreStarted;
  // The same stream again: every chunk is a duplicate, so this measures id + dedup alone.
  peakRss = 0;
  const againStarted = performance.now();
  const again = await repo.backupStream(generate(), { source: { type: 'stream' } });
  const againMs = performance.now() - againStarted;
  const againRss = peakRss;
  await repo.close();
  const rate = (bytes: number, ms: number) => ((bytes / 1e6 / ms) * 1000).toFixed(0);
  console.log(
    `${kind} ${mib} MiB, zstd ${level}: backup ${(backupMs / 1000).toFixed(2)} s (${rate(result.bytesRead, backupMs)} MB/s, stored ${(result.bytesStored / 1e6).toFixed(1)} MB, ${result.chunks} chunks, peak RSS ${(backupRss / 1e6).toFixed(0)} MB, peak buffers ${(peakBuffers / 1e6).toFixed(0)} MB); ` +
      `restore ${(restoreMs / 1000).toFixed(2)} s (${rate(restored, restoreMs)} MB/s); ` +
      `second backup ${(againMs / 1000).toFixed(2)} s (${rate(again.bytesRead, againMs)} MB/s, ${again.newChunks} new chunks, peak RSS ${(againRss / 1e6).toFixed(0)} MB)`,
  );
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
