/**
 * One process of the concurrent-append test, started by `runTogether`:
 *
 *   node --import tsx test/ledger/append-worker.ts '<json config>'
 *
 * config: { location: StoreLocation, count, worker, privateKeyPem, checkpointLog }.
 * Opens the store, prints `ready`, waits for the start signal, appends `count` events, prints
 * `{"appended":N,"lastSeq":S}` and exits 0.
 */
import { Ledger, loadPrivateKey } from '../../src/ledger/index.js';
import { openStore, type StoreLocation } from '../../src/store/index.js';
import { awaitStartSignal } from '../helpers/workers.js';

interface WorkerConfig {
  location: StoreLocation;
  count: number;
  worker: number;
  privateKeyPem: string;
  checkpointLog: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const store = await openStore(config.location);
const ledger = new Ledger(store, {
  signer: { privateKey: loadPrivateKey(config.privateKeyPem) },
  checkpointLog: config.checkpointLog,
});

await awaitStartSignal();
const started = performance.now();
let lastSeq = 0;
for (let n = 1; n <= config.count; n += 1) {
  const record = await ledger.append({
    kind: 'event',
    subject: `worker:${config.worker}`,
    actor: { kind: 'system', roles: [] },
    body: { type: 'x-load-test', details: { worker: config.worker, n } },
  });
  lastSeq = record.seq;
}
await store.close();
process.stdout.write(
  `${JSON.stringify({ appended: config.count, lastSeq, ms: Math.round(performance.now() - started) })}\n`,
);
