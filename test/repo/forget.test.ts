import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  FileType,
  Repository,
  deriveSubkeys,
  openFsBackend,
  openKeyFile,
  parseKeyFileText,
  writeSnapshot,
  type FsBackend,
  type SnapshotManifest,
} from '../../src/repo/index.js';
import { TEST_PASSWORD, freshTestRepo, once } from '../helpers/repo.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function freshRepo(): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  return freshTestRepo('forget', cleanups);
}

/**
 * Snapshots at chosen times: one real backup, then manifests copied from it with another time
 * and source (their data is the same, which is all forget needs).
 */
async function seed(
  repo: Repository,
  backend: FsBackend,
  entries: { time: string; name: string }[],
): Promise<Map<string, string>> {
  const { snapshotId } = await repo.backupStream(once(randomBytes(20 * 1024)), {
    source: { type: 'stream', name: 'seed' },
  });
  const base = (await repo.resolveSnapshot(snapshotId)).manifest;
  const key = await keyOf(repo);
  const ids = new Map<string, string>();
  for (const { time, name } of entries) {
    const manifest: SnapshotManifest = {
      ...base,
      id: randomBytes(32).toString('hex'),
      time,
      source: { type: 'stream', name },
    };
    ids.set(`${name}@${time}`, await writeSnapshot(backend, key, manifest));
  }
  await backend.remove(FileType.snapshots, snapshotId);
  return ids;
}

async function keyOf(repository: Repository): Promise<Buffer> {
  const file = parseKeyFileText(
    (await repository.backend.get(FileType.keys, repository.keyId)).toString('utf8'),
    repository.keyId,
  );
  return deriveSubkeys(await openKeyFile(file, TEST_PASSWORD, { id: repository.keyId })).encryption;
}

async function caught(promise: Promise<unknown>): Promise<ShipError> {
  try {
    await promise;
  } catch (error) {
    if (isShipError(error)) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

const DAYS = ['2026-11-16', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20'];

describe('repo forget', () => {
  it('dry-run shows the plan per source and removes nothing', async () => {
    const { repo, backend } = await freshRepo();
    await seed(repo, backend, [
      ...DAYS.map((d) => ({ time: `${d}T10:00:00.000Z`, name: 'orders' })),
      ...DAYS.map((d) => ({ time: `${d}T11:00:00.000Z`, name: 'users' })),
    ]);
    const result = await repo.forget({ policy: { keepDaily: 2 }, dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.removed).toEqual([]);
    expect(result.plan).toHaveLength(10);
    const kept = result.plan.filter((d) => d.keep);
    expect(kept.map((d) => `${d.source} ${d.reasons.join(',')}`).sort()).toEqual([
      'stream:orders daily 2026-11-19',
      'stream:orders daily 2026-11-20',
      'stream:users daily 2026-11-19',
      'stream:users daily 2026-11-20',
    ]);
    expect(result.plan.find((d) => !d.keep)?.reasons).toEqual(['not kept by the policy']);
    expect(await repo.snapshots()).toHaveLength(10);
  });

  it('removes the snapshots the policy does not keep, only for --source', async () => {
    const { repo, backend } = await freshRepo();
    await seed(repo, backend, [
      ...DAYS.map((d) => ({ time: `${d}T10:00:00.000Z`, name: 'orders' })),
      ...DAYS.map((d) => ({ time: `${d}T11:00:00.000Z`, name: 'users' })),
    ]);
    const result = await repo.forget({ policy: { keepLast: 1 }, source: 'orders' });
    expect(result.removed).toHaveLength(4);
    const left = await repo.snapshots();
    expect(
      left.filter((s) => s.manifest.source.name === 'orders').map((s) => s.manifest.time),
    ).toEqual(['2026-11-20T10:00:00.000Z']);
    expect(left.filter((s) => s.manifest.source.name === 'users')).toHaveLength(5);
  });

  it('removes named snapshots by id prefix, including one whose manifest is damaged', async () => {
    const { repo, backend } = await freshRepo();
    const ids = await seed(repo, backend, [
      { time: '2026-11-19T10:00:00.000Z', name: 'orders' },
      { time: '2026-11-20T10:00:00.000Z', name: 'orders' },
    ]);
    const [first, second] = [...ids.values()] as [string, string];
    // Damage the second manifest in place.
    const sealed = await backend.get(FileType.snapshots, second);
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
    await backend.put(FileType.snapshots, second, sealed);
    const result = await repo.forget({ ids: [first.slice(0, 8), second] });
    expect(result.removed).toEqual([first, second]);
    expect(result.plan[1]?.reasons).toEqual(['named (manifest unreadable)']);
    expect(await repo.snapshots()).toEqual([]);
  });

  it('refuses an empty policy and a policy mixed with ids (exit 2)', async () => {
    const { repo } = await freshRepo();
    const empty = await caught(repo.forget({ policy: {} }));
    expect(empty.code).toBe('SHIP_REPO_EMPTY_POLICY');
    expect(empty.exitCode).toBe(2);
    const mixed = await caught(repo.forget({ ids: ['abcd'], policy: { keepLast: 1 } }));
    expect(mixed.exitCode).toBe(2);
    const unknown = await caught(repo.forget({ ids: ['abcdef12'] }));
    expect(unknown.code).toBe('SHIP_REPO_SNAPSHOT_NOT_FOUND');
  });

  it('is refused on an append-only handle', async () => {
    const { root } = await freshRepo();
    const handle = await Repository.open(openFsBackend(root), TEST_PASSWORD, { appendOnly: true });
    cleanups.push(() => handle.close());
    const error = await caught(handle.forget({ policy: { keepLast: 1 } }));
    expect(error.code).toBe('SHIP_REPO_APPEND_ONLY');
    // A dry run only reads, so it is allowed.
    await expect(handle.forget({ policy: { keepLast: 1 }, dryRun: true })).resolves.toMatchObject({
      removed: [],
    });
  });
});
