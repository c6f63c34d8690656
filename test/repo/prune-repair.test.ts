import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';

import { armFailpoints, disarmFailpoints, isSimulatedCrash } from '../../src/core/index.js';
import { FileType, Repository, openFsBackend, type FsBackend } from '../../src/repo/index.js';
import {
  FAST_REPO,
  TEST_PASSWORD,
  freshTestRepo,
  objectNames,
  once,
  restoreBytes,
} from '../helpers/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  disarmFailpoints();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function freshRepo(): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  return freshTestRepo('repair', cleanups);
}

describe('repo repair index', () => {
  it('rebuilds a lost index from the packs, deletes the old files, and restores work again', async () => {
    const { repo, backend, root } = await freshRepo();
    const data = randomBytes(200 * 1024);
    const { snapshotId } = await repo.backupStream(once(data), {
      source: { type: 'stream', name: 'orders' },
    });
    const packs = await objectNames(backend, FileType.data);
    // Lose every index file, and leave a damaged one behind.
    for (const name of await objectNames(backend, FileType.index)) {
      await backend.remove(FileType.index, name);
    }
    await backend.put(FileType.index, 'f'.repeat(64), randomBytes(200));
    const broken = await Repository.open(openFsBackend(root), TEST_PASSWORD, FAST_REPO);
    cleanups.push(() => broken.close());
    await expect(restoreBytes(broken, snapshotId)).rejects.toThrow();

    const result = await broken.repairIndex();
    expect(result.packs).toBe(packs.length);
    expect(result.unreadablePacks).toEqual([]);
    expect(result.indexFiles.deleted).toBe(1);
    expect(await objectNames(backend, FileType.index)).not.toContain('f'.repeat(64));
    expect((await restoreBytes(broken, snapshotId)).equals(data)).toBe(true);
    expect((await broken.check({ readData: true })).ok).toBe(true);
  });

  it('names a pack whose table of contents is unreadable, keeps it and its old index entries', async () => {
    const { repo, backend } = await freshRepo();
    const data = randomBytes(200 * 1024);
    const { snapshotId } = await repo.backupStream(once(data), {
      source: { type: 'stream', name: 'orders' },
    });
    const [victim] = await objectNames(backend, FileType.data);
    const bytes = await backend.get(FileType.data, victim ?? '');
    // Break the trailer magic: the TOC cannot be found, the blobs are intact.
    bytes[bytes.length - 1] = 0;
    await backend.remove(FileType.data, victim ?? '');
    await backend.put(FileType.data, victim ?? '', bytes);

    const result = await repo.repairIndex();
    expect(result.unreadablePacks.map((p) => p.pack)).toEqual([victim]);
    expect(result.carriedOver).toEqual([victim]);
    expect(await backend.stat(FileType.data, victim ?? '')).toBeDefined();
    expect((await restoreBytes(repo, snapshotId)).equals(data)).toBe(true);
  });

  it('a crash after the new index is written leaves a usable repository', async () => {
    const { repo, root } = await freshRepo();
    const data = randomBytes(150 * 1024);
    const { snapshotId } = await repo.backupStream(once(data), {
      source: { type: 'stream', name: 'orders' },
    });
    armFailpoints('repair.index.written=1');
    await expect(repo.repairIndex()).rejects.toSatisfy(isSimulatedCrash);
    disarmFailpoints();
    const fresh = await Repository.open(openFsBackend(root), TEST_PASSWORD, FAST_REPO);
    cleanups.push(() => fresh.close());
    expect((await restoreBytes(fresh, snapshotId)).equals(data)).toBe(true);
    await fresh.repairIndex();
    expect((await fresh.check({ readData: true })).ok).toBe(true);
  });
});
