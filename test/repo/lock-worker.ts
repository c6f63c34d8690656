/**
 * One contender in the lock race of test/repo/lock.test.ts. Opens the repository backend given
 * as JSON (`{"kind":"fs","dir":…}` or `{"kind":"s3","url":…,"endpoint":…}`), prints `ready`,
 * waits for the start signal, tries to take an exclusive lock and prints one JSON line:
 * `{"won":true,"id":…}` or `{"won":false,"code":…}`. A winner exits holding its lock (never
 * released), so a loser can never take it after the winner is done.
 */
import type { Backend } from '../../src/repo/index.js';
import { acquireLock, openFsBackend, openS3Backend } from '../../src/repo/index.js';
import { isShipError } from '../../src/core/index.js';
import { awaitStartSignal } from '../helpers/workers.js';

type Target = { kind: 'fs'; dir: string } | { kind: 's3'; url: string; endpoint: string };

const target = JSON.parse(process.argv[2] ?? '{}') as Target;
const key = Buffer.from(process.argv[3] ?? '', 'hex');

const backend: Backend =
  target.kind === 'fs'
    ? openFsBackend(target.dir)
    : await openS3Backend({
        url: target.url,
        endpoint: target.endpoint,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });

await awaitStartSignal();
try {
  const lock = await acquireLock(backend, key, { kind: 'exclusive', operation: 'prune' });
  process.stdout.write(`${JSON.stringify({ won: true, id: lock.id })}\n`);
} catch (error) {
  if (!isShipError(error)) throw error;
  process.stdout.write(`${JSON.stringify({ won: false, code: error.code })}\n`);
}
await backend.close();
