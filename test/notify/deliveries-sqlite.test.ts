import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeLocation } from '../../src/store/index.js';
import { deliveriesSuite } from './deliveries-suite.js';

deliveriesSuite({
  name: 'sqlite',
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-notify-'));
    return {
      location: storeLocation(dir, {}),
      // The database file and its write-ahead log, byte for byte: where a row could hide.
      async rawText() {
        const stateDir = join(dir, '.shipshape');
        const files = await readdir(stateDir);
        const parts = await Promise.all(files.map((f) => readFile(join(stateDir, f))));
        return Buffer.concat(parts).toString('latin1');
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});
