import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileType,
  Repository,
  appendOnlyBackend,
  createKeyFile,
  generateMasterKey,
  keyFileId,
  openFsBackend,
  openKeyFile,
  parseKeyFileText,
  serializeKeyFile,
} from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';

const KDF = { N: 1024, r: 8, p: 1 };
const fullPassword = 'the full key password';
const appendPassword = 'the append-only key password';

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  await Promise.resolve();
  yield data;
}

describe('append-only keys', () => {
  let root: string;
  let dir: string;
  let appendKeyId: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-append-only-'));
    dir = join(root, 'repo');
    const repo = await Repository.init(openFsBackend(dir), fullPassword, { kdf: KDF });
    appendKeyId = await repo.addKey(appendPassword, 'ci', 'append-only');
    await repo.close();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores the role in the key file, bound by its id; files without a role are full keys', async () => {
    const text = await readFile(join(dir, 'keys', appendKeyId), 'utf8');
    const file = parseKeyFileText(text, appendKeyId);
    expect(file.role).toBe('append-only');
    expect(keyFileId(file)).toBe(appendKeyId);
    // Promoting the key by editing the file breaks its id: the edit is detected, not obeyed.
    const promoted = { ...file, role: 'full' as const };
    await expect(openKeyFile(promoted, appendPassword, { id: appendKeyId })).rejects.toMatchObject({
      code: 'SHIP_REPO_CORRUPT',
    });
    // A key file written before roles existed has no `role` and the same id as before.
    const { id, file: legacy } = await createKeyFile(generateMasterKey(), 'pw-pw-pw-pw', {
      kdf: KDF,
    });
    expect(serializeKeyFile(legacy)).not.toContain('role');
    expect(keyFileId(legacy)).toBe(id);
  });

  it('backs up and lists with an append-only key, and refuses every delete', async () => {
    const repo = await Repository.open(openFsBackend(dir), appendPassword);
    try {
      expect(repo.keyRole).toBe('append-only');
      expect(repo.appendOnly).toEqual({ kind: 'key', keyId: appendKeyId, label: 'ci' });
      const data = randomBytes(100_000);
      const result = await repo.backupStream(once(data), {
        source: { type: 'stream', name: 'db' },
      });
      expect(await repo.snapshots()).toHaveLength(1);
      expect(await repo.locks()).toEqual([]); // its own lock was released

      const keys = await repo.listKeys();
      expect(keys.map((k) => [k.role, k.current]).sort()).toEqual([
        ['append-only', true],
        ['full', false],
      ]);
      const fullId = keys.find((k) => k.role === 'full')?.id ?? '';

      for (const [operation, attempt] of [
        ['key remove', () => repo.removeKey(fullId)],
        ['unlock --force', () => repo.unlock({ force: true })],
        ['key add (a full key)', () => repo.addKey('a brand new password', 'sneaky')],
        [
          'prune',
          async () => {
            await Promise.resolve();
            repo.assertCanDelete('prune');
          },
        ],
      ] as const) {
        await expect(attempt()).rejects.toMatchObject({
          code: 'SHIP_REPO_APPEND_ONLY',
          exitCode: 19,
          details: { operation, reason: 'key', keyId: appendKeyId },
        });
      }
      // Stale-lock cleanup and adding another append-only key stay possible.
      await expect(repo.unlock()).resolves.toEqual([]);
      const second = await repo.addKey('another append password', 'ci-2', 'append-only');
      expect((await repo.listKeys()).find((k) => k.id === second)?.role).toBe('append-only');
      expect((await readFile(join(dir, 'snapshots', result.snapshotId))).length).toBeGreaterThan(0);
    } finally {
      await repo.close();
    }
  });

  it('lets the full key delete', async () => {
    const repo = await Repository.open(openFsBackend(dir), fullPassword);
    try {
      expect(repo.keyRole).toBe('full');
      expect(repo.appendOnly).toBeUndefined();
      expect(() => {
        repo.assertCanDelete('prune');
      }).not.toThrow();
    } finally {
      await repo.close();
    }
  });

  it('makes a full key append-only when opened with the option, below the repository too', async () => {
    const backend = appendOnlyBackend(openFsBackend(dir));
    const repo = await Repository.open(backend, fullPassword, { appendOnly: true });
    try {
      expect(repo.appendOnly).toEqual({ kind: 'option' });
      await expect(repo.unlock({ force: true })).rejects.toMatchObject({
        code: 'SHIP_REPO_APPEND_ONLY',
      });
      // Code that would bypass the check still cannot remove anything but locks.
      await expect(backend.remove(FileType.keys, repo.keyId)).rejects.toMatchObject({
        code: 'SHIP_REPO_APPEND_ONLY',
      });
      await repo.backupStream(once(Buffer.from('more')), {
        source: { type: 'stream', name: 'db' },
      });
      expect(await repo.locks()).toEqual([]);
    } finally {
      await repo.close();
    }
  });

  it('repo key add --append-only, then the CLI refuses key remove with exit 19 and a way out', async () => {
    const newPassword = join(root, 'ci-password');
    await writeFile(newPassword, 'a third long password\n');
    const env = { SHIPSHAPE_REPO_PASSWORD: fullPassword, SHIPSHAPE_REPO: '' };
    const add = await runCli(
      [
        'repo',
        'key',
        'add',
        '--repo',
        dir,
        '--append-only',
        '--new-password-file',
        newPassword,
        '--label',
        'ci-3',
        '--json',
      ],
      { cwd: root, env },
    );
    expect(add.code, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as { id: string; role: string };
    expect(added.role).toBe('append-only');

    const remove = await runCli(
      ['repo', 'key', 'remove', added.id, '--repo', dir, '--password-file', newPassword],
      { cwd: root, env: { ...env, SHIPSHAPE_REPO_PASSWORD: '' } },
    );
    expect(remove.code).toBe(19);
    expect(remove.stderr).toContain('SHIP_REPO_APPEND_ONLY');
    expect(remove.stderr).toContain(`key ${added.id.slice(0, 12)} (ci-3), an append-only key`);
    expect(remove.stderr).toContain('full key');
  }, 60_000);
});
