import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Repository,
  acquireLock,
  deriveSubkeys,
  openFsBackend,
  openKeyFile,
  parseKeyFileText,
} from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';

const KDF = { N: 1024, r: 8, p: 1 };
const password = 'lock test password';

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  await Promise.resolve();
  yield data;
}

/** Backups, restores and checks take the repository's shared lock; prune will take the exclusive one. */
describe('repository operations under locks', () => {
  let root: string;
  let dir: string;
  let repo: Repository;
  const data = randomBytes(300 * 1024);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-repo-locks-'));
    dir = join(root, 'repo');
    repo = await Repository.init(openFsBackend(dir), password, {
      kdf: KDF,
      packTargetBytes: 64 * 1024,
    });
  });
  afterAll(async () => {
    await repo.close();
    await rm(root, { recursive: true, force: true });
  });

  it('runs two backups into one repository at the same time, and leaves no lock behind', async () => {
    const other = await Repository.open(openFsBackend(dir), password);
    const [a, b] = await Promise.all([
      repo.backupStream(once(data), { source: { type: 'stream', name: 'a' } }),
      other.backupStream(once(randomBytes(200 * 1024)), { source: { type: 'stream', name: 'b' } }),
    ]);
    await other.close();
    expect(a.snapshotId).not.toBe(b.snapshotId);
    expect(await repo.snapshots()).toHaveLength(2);
    expect(await repo.locks()).toEqual([]);
  });

  it('refuses to back up while an exclusive lock is held, with exit 13', async () => {
    const held = await acquireLock(openFsBackend(dir), await keyOf(repo), {
      kind: 'exclusive',
      operation: 'prune',
    });
    try {
      await expect(
        repo.backupStream(once(data), { source: { type: 'stream', name: 'a' } }),
      ).rejects.toMatchObject({ code: 'SHIP_REPO_LOCKED', exitCode: 13 });
    } finally {
      await held.release();
    }
  });

  it('treats a stale lock as an error until `repo unlock` removes it', async () => {
    // Never released: what a crashed prune leaves behind.
    await acquireLock(openFsBackend(dir), await keyOf(repo), {
      kind: 'exclusive',
      operation: 'prune',
      pid: 2 ** 22 + 12345, // no such process on this host
    });
    await expect(
      repo.backupStream(once(data), { source: { type: 'stream', name: 'a' } }),
    ).rejects.toMatchObject({ code: 'SHIP_REPO_LOCK_STALE', exitCode: 13 });

    const env = { SHIPSHAPE_REPO_PASSWORD: password, SHIPSHAPE_REPO: '' };
    const unlock = await runCli(['repo', 'unlock', '--repo', dir, '--json'], { cwd: root, env });
    expect(unlock.code, unlock.stderr).toBe(0);
    const result = JSON.parse(unlock.stdout) as {
      removed: { operation?: string }[];
      remaining: unknown[];
    };
    expect(result.removed).toHaveLength(1);
    expect(result.remaining).toEqual([]);
    await expect(
      repo.backupStream(once(data), { source: { type: 'stream', name: 'a' } }),
    ).resolves.toMatchObject({ newChunks: 0 });
  });
});

/** The repository's encryption sub-key, opened from its key file, for placing locks directly. */
async function keyOf(repository: Repository): Promise<Buffer> {
  const file = parseKeyFileText(
    (await repository.backend.get('keys', repository.keyId)).toString('utf8'),
    repository.keyId,
  );
  return deriveSubkeys(await openKeyFile(file, password, { id: repository.keyId })).encryption;
}
