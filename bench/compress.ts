/**
 * Compression throughput: zstd on the worker pool, 1 worker vs all cores, levels 1 and 3, on
 * pgbench-like text (highly compressible), base64 of random bytes (poorly compressible, 1.33:1)
 * and random bytes (incompressible, stored as is),
 * in 1 MiB chunks as the chunker produces them; decompression of the compressed text (the
 * restore side); and AES-256-GCM sealing for scale. Rates are of uncompressed bytes, by wall
 * clock and per CPU-second of the whole process (all threads; robust on a shared machine).
 *
 *   npx tsx bench/compress.ts [MiB]
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';

import { CompressPool, compressSync, decompressSync, sealBlob } from '../src/repo/index.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 128) * MiB;
const chunkBytes = MiB;

/** pgbench_accounts rows as `pg_dump` writes them: aid, bid, abalance, an 84-space filler. */
function pgbenchLike(bytes: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  for (let aid = 1; length < bytes; aid++) {
    const line = `${aid}\t${1 + Math.floor(aid / 100_000)}\t${(aid * 7919) % 5000}\t${' '.repeat(84)}\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

function chunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < data.length; pos += chunkBytes)
    out.push(data.subarray(pos, pos + chunkBytes));
  return out;
}

async function run(
  pool: CompressPool,
  input: Buffer[],
): Promise<{ ms: number; cpuMs: number; stored: number }> {
  const window = (pool.size + pool.maxQueued) * 2;
  const inflight: Promise<{ data: Buffer }>[] = [];
  let stored = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (const chunk of input) {
    inflight.push(pool.compress(chunk));
    const oldest = inflight.length >= window ? inflight.shift() : undefined;
    if (oldest) stored += (await oldest).data.length;
  }
  for (const job of inflight) stored += (await job).data.length;
  return { ms: performance.now() - start, cpuMs: cpuMs(cpu), stored };
}

const cores = availableParallelism();
const sets = {
  'pgbench-like': chunks(pgbenchLike(size)),
  // Base64 of random bytes: 6 bits of entropy per byte, so zstd works hard for ~25 % (the
  // "poorly compressible dump" case); pure random is detected and skipped much faster.
  'base64-random': chunks(Buffer.from(randomBytes((size * 3) / 4).toString('base64'))),
  random: chunks(randomBytes(size)),
};
console.log(
  `node ${process.version}, ${cores} cores, ${size / MiB} MiB per data set, 1 MiB chunks, load average ${loadavg()[0]?.toFixed(2) ?? '?'}`,
);
/** CPU time of the whole process (all threads) since `start`, in ms. */
function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function line(label: string, name: string, ms: number, cpu: number, stored: number): void {
  const rate = (elapsed: number) => (size / 1e6 / (elapsed / 1000)).toFixed(0).padStart(6);
  console.log(
    `${label.padEnd(26)} ${name.padEnd(13)} ${rate(ms)} MB/s wall ${rate(cpu)} MB/CPU-s  ratio ${(size / stored).toFixed(2)}`,
  );
}

for (const level of [1, 3]) {
  for (const [name, input] of Object.entries(sets)) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    let stored = 0;
    for (const chunk of input) stored += compressSync(chunk, level).data.length;
    line(`level ${level} main thread`, name, performance.now() - start, cpuMs(cpu), stored);
  }
  for (const workers of [...new Set([1, cores])]) {
    const pool = new CompressPool({ workers, level });
    await run(pool, sets.random.slice(0, 8)); // start the workers before timing
    for (const [name, input] of Object.entries(sets)) {
      const { ms, cpuMs: cpu, stored } = await run(pool, input);
      line(`level ${level} pool, ${workers} worker(s)`, name, ms, cpu, stored);
    }
    await pool.close();
  }
}

// Restore side: decompress the pgbench-like chunks compressed at level 3.
const frames = sets['pgbench-like'].map((chunk) => ({
  length: chunk.length,
  frame: compressSync(chunk, 3).data,
}));
const frameBytes = frames.reduce((sum, { frame }) => sum + frame.length, 0);
{
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (const { frame, length } of frames) decompressSync(frame, length);
  line('decompress main thread', 'pgbench-like', performance.now() - start, cpuMs(cpu), frameBytes);
}
for (const workers of [...new Set([1, cores])]) {
  const pool = new CompressPool({ workers });
  const window = (pool.size + pool.maxQueued) * 2;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const inflight: Promise<Buffer>[] = [];
  for (const { frame, length } of frames) {
    inflight.push(pool.decompress(frame, length));
    const oldest = inflight.length >= window ? inflight.shift() : undefined;
    if (oldest) await oldest;
  }
  await Promise.all(inflight);
  const label = `decompress pool, ${workers} worker(s)`;
  line(label, 'pgbench-like', performance.now() - start, cpuMs(cpu), frameBytes);
  await pool.close();
}

const key = randomBytes(32);
const start = performance.now();
const cpu = process.cpuUsage();
let sealed = 0;
for (const chunk of sets.random) {
  sealed += sealBlob(key, { type: 'data', compressed: false }, chunk).length;
}
line('AES-256-GCM sealBlob', 'random', performance.now() - start, cpuMs(cpu), sealed);
