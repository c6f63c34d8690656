import { appendFile, chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

import { filesDriver } from '../../src/datastores/index.js';

import { runDriverConformance, type MadeTarget } from './conformance.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipshape-files-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function at(name: string): MadeTarget {
  counter++;
  return {
    target: { name: 'uploads', connection: join(dir, `${counter}-${name}`) },
    drop: () => Promise.resolve(),
  };
}

async function seed(root: string): Promise<void> {
  await mkdir(join(root, 'nested', 'deeper', 'ünïcødé 🚀'), { recursive: true });
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'binary.bin'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  await writeFile(join(root, 'nested', 'big.dat'), Buffer.alloc(2 * 1024 * 1024, 3));
  await writeFile(join(root, 'nested', 'deeper', 'ünïcødé 🚀', 'файл.txt'), 'привет\n');
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(root, 'run.sh'), 0o755);
  await symlink('nested/big.dat', join(root, 'link'));
  await mkdir(join(root, 'many'));
  for (let i = 0; i < 40; i++) await writeFile(join(root, 'many', `f${i}`), `file ${i}\n`);
}

runDriverConformance({
  name: 'files',
  driver: filesDriver,
  empty: () => Promise.resolve(at('data')),
  seed: (target) => seed(target.connection),
  change: (target) => appendFile(join(target.connection, 'many', 'f3'), 'more\n'),
  expectEntries: [
    'nested/',
    'nested/big.dat',
    'run.sh',
    'link',
    'many/f39',
    'nested/deeper/ünïcødé 🚀/файл.txt',
  ],
  faults: [
    {
      name: 'the directory does not exist',
      code: 'SHIP_DATASTORE_NOT_FOUND',
      make: () => Promise.resolve(at('missing')),
    },
    {
      name: 'the connection is a file, not a directory',
      code: 'SHIP_DATASTORE_BAD_CONNECTION',
      make: async () => {
        const made = at('a-file');
        await writeFile(made.target.connection, 'x');
        return made;
      },
    },
  ],
});
