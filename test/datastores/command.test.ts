import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ShipError } from '../../src/core/index.js';
import {
  commandDriver,
  repositoryReader,
  repositorySink,
  type CommandSpec,
  type Target,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend } from '../../src/repo/index.js';

import { FAST, PASSWORD, runDriverConformance, type MadeTarget } from './conformance.js';

/** A "store" Shipshape has no driver for: a directory, backed up by tar through the commands. */
const TAR_COMMANDS: CommandSpec = {
  backup: 'tar -C "$SHIPSHAPE_CONNECTION" -cf - .',
  restore: [
    'mkdir -p "$SHIPSHAPE_CONNECTION"',
    'if [ -n "$(ls -A "$SHIPSHAPE_CONNECTION")" ]; then',
    '  if [ "$SHIPSHAPE_FORCE" != 1 ]; then echo "target not empty" >&2; exit 73; fi',
    '  find "$SHIPSHAPE_CONNECTION" -mindepth 1 -delete',
    'fi',
    'tar -C "$SHIPSHAPE_CONNECTION" -xf -',
  ].join('\n'),
  fingerprint:
    'cd "$SHIPSHAPE_CONNECTION" && find . -type f | LC_ALL=C sort | xargs -d "\\n" sha256sum | sha256sum | cut -d" " -f1',
};

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipshape-command-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function at(commands: CommandSpec, connection?: string): MadeTarget {
  counter++;
  const path = join(dir, `store-${counter}`);
  return {
    target: {
      name: 'sequencer',
      environment: 'staging',
      connection: connection ?? path,
      command: commands,
    },
    drop: () => Promise.resolve(),
  };
}

async function seed(target: Target): Promise<void> {
  await mkdir(join(target.connection, 'state', 'ünïcødé'), { recursive: true });
  await writeFile(join(target.connection, 'state', 'ünïcødé', 'blob'), Buffer.alloc(300_000, 9));
  for (let i = 0; i < 40; i++)
    await writeFile(join(target.connection, 'state', `k${i}`), `value ${i}`);
  await writeFile(join(target.connection, 'empty'), '');
}

runDriverConformance({
  name: 'command',
  driver: commandDriver,
  empty: () => Promise.resolve(at(TAR_COMMANDS)),
  seed,
  change: (target) => appendFile(join(target.connection, 'state', 'k1'), '!'),
  expectEntries: ['output'],
  sandboxSkip: 'Shipshape cannot start an instance of a store it does not know',
  faults: [
    {
      name: 'the backup command fails after writing part of its output',
      code: 'SHIP_DATASTORE_COMMAND_FAILED',
      secret: 'canary-cmd-secret-99',
      make: () =>
        Promise.resolve(
          at(
            {
              ...TAR_COMMANDS,
              backup:
                'printf partial-output; echo "cannot reach $SHIPSHAPE_CONNECTION" >&2; exit 4',
            },
            'postgres://app:canary-cmd-secret-99@db.internal/app',
          ),
        ),
    },
    {
      name: 'the backup program is not installed',
      code: 'SHIP_DATASTORE_COMMAND_FAILED',
      make: () =>
        Promise.resolve(at({ ...TAR_COMMANDS, backup: 'no-such-program-shipshape --dump' })),
    },
  ],
});

describe('command driver specifics', () => {
  it('passes the documented environment to the commands', async () => {
    const out = join(dir, 'env-seen');
    const target: Target = {
      name: 'search',
      environment: 'production',
      connection: 'http://127.0.0.1:9200',
      command: {
        backup: `env | grep ^SHIPSHAPE_ | LC_ALL=C sort > ${out}.backup; printf data`,
        restore: `cat > /dev/null; env | grep ^SHIPSHAPE_ | LC_ALL=C sort > ${out}.restore`,
      },
    };
    const repo = await Repository.init(openFsBackend(join(dir, 'env-repo')), PASSWORD, FAST);
    try {
      const outcome = await commandDriver.backup(
        target,
        repositorySink(repo, { name: 'search', kind: 'command' }),
      );
      expect(outcome.fingerprint).toBeUndefined();
      const { readFile } = await import('node:fs/promises');
      expect((await readFile(`${out}.backup`, 'utf8')).trim().split('\n')).toEqual([
        'SHIPSHAPE_CONNECTION=http://127.0.0.1:9200',
        'SHIPSHAPE_DATASTORE=search',
        'SHIPSHAPE_ENVIRONMENT=production',
        'SHIPSHAPE_OPERATION=backup',
      ]);
      await commandDriver.restore(await repositoryReader(repo, 'latest'), target, { force: true });
      expect((await readFile(`${out}.restore`, 'utf8')).trim().split('\n')).toEqual([
        'SHIPSHAPE_CONNECTION=http://127.0.0.1:9200',
        'SHIPSHAPE_DATASTORE=search',
        'SHIPSHAPE_ENVIRONMENT=production',
        'SHIPSHAPE_FORCE=1',
        'SHIPSHAPE_OPERATION=restore',
        `SHIPSHAPE_SNAPSHOT=${outcome.snapshot.snapshotId}`,
      ]);
    } finally {
      await repo.close();
    }
  });

  it('a failing restore command is an error with the command named', async () => {
    const repo = await Repository.init(openFsBackend(join(dir, 'fail-repo')), PASSWORD, FAST);
    try {
      const target: Target = {
        name: 'search',
        connection: 'x',
        command: { backup: 'printf abc', restore: 'exit 9' },
      };
      await commandDriver.backup(target, repositorySink(repo, { name: 'search', kind: 'command' }));
      const error = (await commandDriver
        .restore(await repositoryReader(repo, 'latest'), target)
        .catch((e: unknown) => e)) as ShipError;
      expect(error.code).toBe('SHIP_DATASTORE_COMMAND_FAILED');
      expect(error.message).toMatch(/restore command of search exited with 9/);
    } finally {
      await repo.close();
    }
  });
});
