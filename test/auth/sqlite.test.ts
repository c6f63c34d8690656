import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenSuite } from './token-suite.js';

tokenSuite({
  name: 'sqlite',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-tokens-db-'));
    return Promise.resolve({
      location: { dialect: 'sqlite', path: join(dir, 'state.db') },
      cleanup: () => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});
