/**
 * Chunker throughput: FastCDC over 256 MiB of random data with the default parameters
 * (min 512 KiB, avg 1 MiB, max 8 MiB), for the sync core `cut` on one buffer and for
 * `chunkStream` fed 64 KiB pieces (as fs.createReadStream delivers them).
 *
 *   npx tsx bench/chunker.ts [MiB]
 */
import { randomBytes } from 'node:crypto';
import { chunkStream, cut, DEFAULT_CHUNKER_PARAMS, gearTable } from '../src/repo/index.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 256) * MiB;
const data = randomBytes(size);
const key = randomBytes(32);
const table = gearTable(key);

function* pieces(piece: number): Generator<Buffer> {
  for (let pos = 0; pos < data.length; pos += piece) yield data.subarray(pos, pos + piece);
}

function report(label: string, ms: number, chunks: number): void {
  const mbps = size / 1e6 / (ms / 1000);
  const mean = size / chunks / 1024;
  console.log(
    `${label.padEnd(28)} ${mbps.toFixed(0).padStart(6)} MB/s  ${chunks} chunks, mean ${mean.toFixed(0)} KiB`,
  );
}

console.log(`node ${process.version}, ${size / MiB} MiB random data, defaults 512 KiB/1 MiB/8 MiB`);
for (let round = 0; round < 3; round++) {
  let start = performance.now();
  let chunks = 0;
  for (let pos = 0; pos < data.length; chunks++) {
    pos += cut(data.subarray(pos), DEFAULT_CHUNKER_PARAMS, table);
  }
  report('cut (one buffer)', performance.now() - start, chunks);

  start = performance.now();
  chunks = 0;
  for await (const chunk of chunkStream(pieces(64 * 1024), DEFAULT_CHUNKER_PARAMS, key)) {
    if (chunk.length > 0) chunks++;
  }
  report('chunkStream (64 KiB pieces)', performance.now() - start, chunks);
}
