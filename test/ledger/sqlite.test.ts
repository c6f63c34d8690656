import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ledgerSuite } from './ledger-suite.js';

ledgerSuite({
  name: 'sqlite',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-ledger-db-'));
    return Promise.resolve({
      location: { dialect: 'sqlite', path: join(dir, 'state.db') },
      cleanup: () => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});
