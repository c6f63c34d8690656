/**
 * One process of the concurrent-migration test:
 *
 *   node --import tsx test/store/migrate-worker.ts '<StoreLocation as JSON>'
 *
 * Opens the store, prints `ready`, waits for the start line on stdin, migrates, prints
 * `{"applied":[…],"appliedBy":"host:pid"}` and exits 0.
 */
import { hostname } from 'node:os';
import { openStore, type StoreLocation } from '../../src/store/index.js';
import { awaitStartSignal } from '../helpers/workers.js';

const location = JSON.parse(process.argv[2] ?? '') as StoreLocation;
const store = await openStore(location);
await awaitStartSignal();
try {
  const report = await store.migrate();
  process.stdout.write(
    `${JSON.stringify({ applied: report.applied, appliedBy: `${hostname()}:${process.pid}` })}\n`,
  );
} finally {
  await store.close();
}
