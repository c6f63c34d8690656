/**
 * One process of the `exclusive` serialisation test:
 *
 *   node --import tsx test/store/counter-worker.ts '<StoreLocation as JSON>' <worker> <count>
 *
 * After the start signal, increments the scratch counter `count` times, each time inside
 * `store.exclusive`: read the value, log it as the "before" value (a primary key, so two
 * increments that read the same value cannot both commit), then write value + 1.
 */
import { openStore, type StoreLocation } from '../../src/store/index.js';
import { awaitStartSignal } from '../helpers/workers.js';
import { incrementCounter } from './scratch.js';

const location = JSON.parse(process.argv[2] ?? '') as StoreLocation;
const worker = Number(process.argv[3]);
const count = Number(process.argv[4]);
const store = await openStore(location);
await awaitStartSignal();
try {
  for (let n = 0; n < count; n += 1) await incrementCounter(store, worker);
  process.stdout.write(`${JSON.stringify({ worker, count })}\n`);
} finally {
  await store.close();
}
