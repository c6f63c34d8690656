/**
 * Memory of the master index per blob: adds N entries (default 1,000,000) and prints the growth
 * of RSS, heap and external+arrayBuffers, with a `Map<string, object>` beside it for comparison.
 *
 *   node --expose-gc --import tsx bench/index-memory.ts [N]
 */
import { randomBytes } from 'node:crypto';

import { MasterIndex, type PackEntry } from '../src/repo/index.js';

const count = Number(process.argv[2] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function snapshot(): NodeJS.MemoryUsage {
  gc();
  gc();
  return process.memoryUsage();
}

function report(label: string, before: NodeJS.MemoryUsage, after: NodeJS.MemoryUsage): void {
  const per = (key: 'rss' | 'heapUsed' | 'external') =>
    ((after[key] - before[key]) / count).toFixed(1);
  console.log(
    `${label.padEnd(28)} rss ${per('rss')} B/entry  heap ${per('heapUsed')} B/entry  external ${per('external')} B/entry`,
  );
}

const packs = Array.from({ length: Math.ceil(count / 30) }, () => randomBytes(32).toString('hex'));
const ids = randomBytes(32 * count);

const before = snapshot();
const index = new MasterIndex();
for (let i = 0; i < count; i++) {
  const entry: PackEntry = {
    id: ids.toString('hex', i * 32, i * 32 + 32),
    type: 'data',
    compressed: true,
    offset: (i % 30) * 1_100_000,
    length: 1_000_000,
    plaintextLength: 1_048_576,
  };
  index.add(packs[Math.floor(i / 30)] ?? '', entry);
}
const after = snapshot();
report(`MasterIndex (${index.size})`, before, after);

const mapBefore = snapshot();
const map = new Map<string, object>();
for (let i = 0; i < count; i++) {
  map.set(ids.toString('hex', i * 32, i * 32 + 32), {
    pack: packs[Math.floor(i / 30)],
    offset: i,
    length: 1_000_000,
    plaintextLength: 1_048_576,
    type: 'data',
  });
}
const mapAfter = snapshot();
report(`Map<string, object> (${map.size})`, mapBefore, mapAfter);
// Keeps both structures alive until both were measured.
console.log(`(kept alive: ${index.size + map.size} entries)`);
