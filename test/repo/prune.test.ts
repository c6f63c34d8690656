import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import {
  armFailpoints,
  disarmFailpoints,
  isShipError,
  isSimulatedCrash,
  type ShipError,
} from '../../src/core/index.js';
import {
  FileType,
  Repository,
  acquireLock,
  deriveSubkeys,
  openFsBackend,
  openKeyFile,
  parseKeyFileText,
  type Backend,
  type FsBackend,
  type InitOptions,
} from '../../src/repo/index.js';
import {
  FAST_REPO,
  TEST_PASSWORD,
  freshTestRepo,
  objectNames,
  once,
  restoreBytes,
} from '../helpers/repo.js';

const FAST: InitOptions = { ...FAST_REPO, workers: 2 };
const OPEN = { packTargetBytes: 64 * 1024, workers: 2 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  disarmFailpoints();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function freshRepo(): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  return freshTestRepo('prune', cleanups, FAST);
}

async function reopen(root: string, options: { appendOnly?: boolean } = {}): Promise<Repository> {
  const repo = await Repository.open(openFsBackend(root), TEST_PASSWORD, { ...OPEN, ...options });
  cleanups.push(() => repo.close());
  return repo;
}

async function backup(repo: Repository, data: Buffer, name = 'orders'): Promise<string> {
  const result = await repo.backupStream(once(data), { source: { type: 'stream', name } });
  return result.snapshotId;
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

/** A resolvable promise, to hold a backup's source open while prune tries to run. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('repo prune', () => {
  it('marks unused packs on the first run and deletes them on the second (grace 0)', async () => {
    const { repo, backend } = await freshRepo();
    const a = randomBytes(300 * 1024);
    const b = randomBytes(300 * 1024);
    const first = await backup(repo, a);
    const packsA = await objectNames(backend, FileType.data);
    const second = await backup(repo, b);
    await repo.forget({ ids: [first] });

    const marking = await repo.prune({ graceMs: 0 });
    expect(marking.deleted).toEqual([]);
    expect(marking.marked.map((p) => p.pack).sort()).toEqual(packsA);
    expect(marking.marked.every((p) => p.reason === 'unused')).toBe(true);
    expect(marking.bytesMarked).toBeGreaterThan(300 * 1024);
    for (const pack of packsA) expect(await backend.stat(FileType.data, pack)).toBeDefined();
    expect(await objectNames(backend, FileType.marks)).toHaveLength(1);
    // check tells marked packs apart from packs an interrupted backup left behind.
    const between = await repo.check();
    expect(between.ok).toBe(true);
    expect(between.packs.unindexed).toEqual([]);
    expect([...between.packs.marked].sort()).toEqual(packsA);

    const deleting = await repo.prune({ graceMs: 0 });
    expect(deleting.deleted.map((p) => p.pack).sort()).toEqual(packsA);
    expect(deleting.bytesFreed).toBe(marking.bytesMarked);
    expect(deleting.stillMarked).toEqual([]);
    for (const pack of packsA) expect(await backend.stat(FileType.data, pack)).toBeUndefined();
    expect(await objectNames(backend, FileType.marks)).toEqual([]);

    expect((await restoreBytes(repo, second)).equals(b)).toBe(true);
    const report = await repo.check({ readData: true });
    expect(report.problems).toEqual([]);
    expect(report.packs.unindexed).toEqual([]);
    expect(report.packs.marked).toEqual([]);
  });

  it('backups between the two runs do not re-index marked packs; the second run deletes them', async () => {
    const { repo, backend, root } = await freshRepo();
    const a = randomBytes(300 * 1024);
    const first = await backup(repo, a);
    const packsA = await objectNames(backend, FileType.data);
    await repo.forget({ ids: [first] });
    const marking = await repo.prune({ graceMs: 0 });
    expect(marking.marked.map((p) => p.pack).sort()).toEqual(packsA);

    // A backup by a fresh handle lists data/ for packs in no index; marked ones must stay out.
    const fresh = await reopen(root);
    const c = randomBytes(200 * 1024);
    const third = await backup(fresh, c);
    const report = await fresh.check();
    expect(report.ok).toBe(true);
    expect([...report.packs.marked].sort()).toEqual(packsA);
    await fresh.close();

    const deleting = await repo.prune({ graceMs: 0 });
    expect(deleting.deleted.map((p) => p.pack).sort()).toEqual(packsA);
    expect((await restoreBytes(repo, third)).equals(c)).toBe(true);
    expect((await repo.check({ readData: true })).ok).toBe(true);
  });

  it('deletes nothing while the grace period has not passed', async () => {
    const { repo, backend } = await freshRepo();
    const first = await backup(repo, randomBytes(200 * 1024));
    await backup(repo, randomBytes(200 * 1024));
    await repo.forget({ ids: [first] });
    const start = new Date('2026-11-20T10:00:00Z');
    const marking = await repo.prune({ now: () => start });
    const before = await objectNames(backend, FileType.data);

    const early = await repo.prune({ now: () => new Date(start.getTime() + 59 * 60 * 1000) });
    expect(early.deleted).toEqual([]);
    expect(early.marked).toEqual([]);
    expect(early.stillMarked.map((p) => p.pack)).toEqual(marking.marked.map((p) => p.pack).sort());
    expect(early.stillMarked[0]?.deletableAt).toBe('2026-11-20T11:00:00.000Z');
    expect(await objectNames(backend, FileType.data)).toEqual(before);

    const late = await repo.prune({ now: () => new Date(start.getTime() + 60 * 60 * 1000) });
    expect(late.deleted).toHaveLength(marking.marked.length);
  });

  it('dry-run reports the plan with byte counts and changes nothing', async () => {
    const { repo, backend, root } = await freshRepo();
    const first = await backup(repo, randomBytes(200 * 1024));
    await backup(repo, randomBytes(200 * 1024));
    await repo.forget({ ids: [first] });
    const listing = async () =>
      Promise.all(
        [FileType.data, FileType.index, FileType.marks].map((type) => objectNames(backend, type)),
      );
    const before = await listing();
    const plan = await (await reopen(root, { appendOnly: true })).prune({ dryRun: true });
    expect(plan.dryRun).toBe(true);
    expect(plan.marked.length).toBeGreaterThan(0);
    expect(plan.bytesMarked).toBe(plan.marked.reduce((sum, p) => sum + p.bytes, 0));
    expect(await listing()).toEqual(before);
  });

  it('repacks partly used packs: used blobs move, the old pack is marked, data restores', async () => {
    const { repo, backend, root } = await freshRepo();
    const shared = randomBytes(150 * 1024);
    const first = await backup(repo, Buffer.concat([shared, randomBytes(150 * 1024)]));
    const second = await backup(repo, Buffer.concat([shared, randomBytes(100 * 1024)]));
    await repo.forget({ ids: [first] });

    const result = await repo.prune({ graceMs: 0, maxUnusedPercent: 0 });
    expect(result.repacked.length).toBeGreaterThan(0);
    expect(result.written.length).toBeGreaterThan(0);
    for (const pack of result.repacked) {
      expect(pack.usedBytes).toBeGreaterThan(0);
      expect(pack.unusedBytes).toBeGreaterThan(0);
      expect(result.marked).toContainEqual({
        pack: pack.pack,
        bytes: pack.bytes,
        reason: 'repacked',
      });
    }
    const secondData = await restoreBytes(repo, second);
    const fresh = await reopen(root);
    expect((await restoreBytes(fresh, second)).equals(secondData)).toBe(true);
    expect(secondData.subarray(0, shared.length).equals(shared)).toBe(true);

    const deleting = await repo.prune({ graceMs: 0, maxUnusedPercent: 0 });
    for (const pack of result.repacked) {
      expect(deleting.deleted.map((p) => p.pack)).toContain(pack.pack);
      expect(await backend.stat(FileType.data, pack.pack)).toBeUndefined();
    }
    expect(deleting.repacked).toEqual([]);
    expect((await restoreBytes(fresh, second)).equals(secondData)).toBe(true);
    const report = await fresh.check({ readData: true });
    expect(report.problems).toEqual([]);
  });

  it('marks and then deletes the packs of an interrupted backup (in no index)', async () => {
    const { repo, backend, root } = await freshRepo();
    const keep = randomBytes(150 * 1024);
    const kept = await backup(repo, keep);
    const indexBefore = new Set(await objectNames(backend, FileType.index));
    const packsBefore = new Set(await objectNames(backend, FileType.data));
    const lost = await backup(repo, randomBytes(150 * 1024));
    // As if the backup died after its packs were durable: no index file, no snapshot.
    for (const name of await objectNames(backend, FileType.index)) {
      if (!indexBefore.has(name)) await backend.remove(FileType.index, name);
    }
    await backend.remove(FileType.snapshots, lost);
    const orphans = (await objectNames(backend, FileType.data)).filter((p) => !packsBefore.has(p));
    expect(orphans.length).toBeGreaterThan(0);

    const fresh = await reopen(root);
    const marking = await fresh.prune({ graceMs: 0 });
    expect(marking.marked.map((p) => p.pack).sort()).toEqual(orphans);
    expect(marking.marked.every((p) => p.reason === 'unindexed')).toBe(true);
    const deleting = await fresh.prune({ graceMs: 0 });
    expect(deleting.deleted.map((p) => p.pack).sort()).toEqual(orphans);
    expect((await restoreBytes(fresh, kept)).equals(keep)).toBe(true);
    expect((await fresh.check({ readData: true })).ok).toBe(true);
  });

  it('refuses to delete anything when a snapshot cannot be walked completely (exit 11)', async () => {
    const { repo, backend } = await freshRepo();
    const gone = await backup(repo, randomBytes(150 * 1024));
    const damaged = await backup(repo, randomBytes(150 * 1024));
    await repo.forget({ ids: [gone] });
    await repo.prune({ graceMs: 0 });
    // Lose one pack of the surviving snapshot.
    const marked = new Set((await repo.prune({ dryRun: true })).stillMarked.map((p) => p.pack));
    const victim = (await objectNames(backend, FileType.data)).find((p) => !marked.has(p));
    expect(victim).toBeDefined();
    await backend.remove(FileType.data, victim ?? '');
    const before = await objectNames(backend, FileType.data);
    const marksBefore = await objectNames(backend, FileType.marks);

    const error = await caught(repo.prune({ graceMs: 0 }));
    expect(error.code).toBe('SHIP_REPO_CORRUPT');
    expect(error.exitCode).toBe(11);
    expect(error.message).toContain(`snapshot ${damaged}`);
    expect(error.message).toContain('nothing was deleted');
    expect(await objectNames(backend, FileType.data)).toEqual(before);
    expect(await objectNames(backend, FileType.marks)).toEqual(marksBefore);
  });

  it('un-marks a marked pack that a snapshot uses again and indexes it from its TOC', async () => {
    const { repo, backend, root } = await freshRepo();
    const data = randomBytes(150 * 1024);
    const first = await backup(repo, data);
    const manifest = await backend.get(FileType.snapshots, first);
    await repo.forget({ ids: [first] });
    const marking = await repo.prune({ graceMs: 0 });
    expect(marking.marked.length).toBeGreaterThan(0);
    // A backup that deduplicated against the packs before they were marked commits now.
    await backend.put(FileType.snapshots, first, manifest);

    const result = await repo.prune({ graceMs: 0 });
    expect(result.deleted).toEqual([]);
    expect(result.unmarked.map((p) => p.pack).sort()).toEqual(
      marking.marked.map((p) => p.pack).sort(),
    );
    expect(result.stillMarked).toEqual([]);
    const fresh = await reopen(root);
    expect((await restoreBytes(fresh, first)).equals(data)).toBe(true);
    expect((await fresh.check()).ok).toBe(true);
  });

  it('a long-lived handle reloads the index after another handle pruned', async () => {
    const { repo, root } = await freshRepo();
    const data = randomBytes(200 * 1024);
    const first = await backup(repo, data);
    const other = await reopen(root);
    await other.forget({ ids: [first] });
    await other.prune({ graceMs: 0 });
    const deleted = await other.prune({ graceMs: 0 });
    expect(deleted.deleted.length).toBeGreaterThan(0);

    // The first handle still has the old index cached; it must not dedup against gone packs.
    const again = await backup(repo, data);
    const fresh = await reopen(root);
    expect((await restoreBytes(fresh, again)).equals(data)).toBe(true);
    expect((await fresh.check({ readData: true })).ok).toBe(true);
  });

  it('a handle holding packs it could not index notices when prune deleted them', async () => {
    const { backend, root } = await freshRepo();
    let failIndex = true;
    const flaky: Backend = {
      location: backend.location,
      capabilities: backend.capabilities,
      put: async (type, name, bytes, options) => {
        if (type === FileType.index && failIndex) throw new Error('simulated index write failure');
        return backend.put(type, name, bytes, options);
      },
      get: (type, name, range) => backend.get(type, name, range),
      stat: (type, name) => backend.stat(type, name),
      list: (type) => backend.list(type),
      remove: (type, name) => backend.remove(type, name),
      close: () => backend.close(),
    };
    const writer = await Repository.open(flaky, TEST_PASSWORD, OPEN);
    cleanups.push(() => writer.close());
    const data = randomBytes(150 * 1024);
    await expect(backup(writer, data)).rejects.toThrow('simulated index write failure');
    // Another process prunes twice: the packs are in no index, so they are marked, then deleted.
    const pruner = await reopen(root);
    expect((await pruner.prune({ graceMs: 0 })).marked.length).toBeGreaterThan(0);
    expect((await pruner.prune({ graceMs: 0 })).deleted.length).toBeGreaterThan(0);

    failIndex = false;
    const again = await backup(writer, data);
    const fresh = await reopen(root);
    expect((await restoreBytes(fresh, again)).equals(data)).toBe(true);
    expect((await fresh.check({ readData: true })).ok).toBe(true);
  });

  it('fails with exit 13 while a backup holds the shared lock; the backup completes intact', async () => {
    const { repo, root } = await freshRepo();
    const hold = latch();
    const reading = latch();
    const data = randomBytes(100 * 1024);
    async function* source(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 50 * 1024);
      reading.open();
      await hold.promise;
      yield data.subarray(50 * 1024);
    }
    const running = repo.backupStream(source(), { source: { type: 'stream', name: 'slow' } });
    await reading.promise;
    const pruner = await reopen(root);
    const error = await caught(pruner.prune({ graceMs: 0 }));
    expect(error.code).toBe('SHIP_REPO_LOCKED');
    expect(error.exitCode).toBe(13);
    hold.open();
    const { snapshotId } = await running;
    await pruner.prune({ graceMs: 0 });
    await pruner.prune({ graceMs: 0 });
    expect((await restoreBytes(pruner, snapshotId)).equals(data)).toBe(true);
  });

  it('a backup started while prune holds the exclusive lock fails with exit 13 and loses nothing', async () => {
    const { repo, backend, root } = await freshRepo();
    const data = randomBytes(100 * 1024);
    const first = await backup(repo, data);
    await backup(repo, randomBytes(100 * 1024));
    await repo.forget({ ids: [first] });
    // Pause prune inside its exclusive lock, at its first index write.
    const hold = latch();
    const inside = latch();
    const paused: Backend = {
      location: backend.location,
      capabilities: backend.capabilities,
      put: async (type, name, bytes, options) => {
        if (type === FileType.index) {
          inside.open();
          await hold.promise;
        }
        return backend.put(type, name, bytes, options);
      },
      get: (type, name, range) => backend.get(type, name, range),
      stat: (type, name) => backend.stat(type, name),
      list: (type) => backend.list(type),
      remove: (type, name) => backend.remove(type, name),
      close: () => backend.close(),
    };
    const pruner = await Repository.open(paused, TEST_PASSWORD, OPEN);
    cleanups.push(() => pruner.close());
    const pruning = pruner.prune({ graceMs: 0 });
    await inside.promise;
    const writer = await reopen(root);
    const error = await caught(writer.backupStream(once(data), { source: { type: 'stream' } }));
    expect(error.exitCode).toBe(13);
    hold.open();
    await pruning;
    const again = await backup(writer, data);
    expect((await restoreBytes(writer, again)).equals(data)).toBe(true);
  });

  it('fails with exit 13 when another process holds a shared lock', async () => {
    const { repo, backend } = await freshRepo();
    const held = await acquireLock(backend, await keyOf(repo), {
      kind: 'shared',
      operation: 'backup',
    });
    cleanups.push(() => held.release());
    const error = await caught(repo.prune({ graceMs: 0 }));
    expect(error.exitCode).toBe(13);
  });

  it('refuses on an append-only handle, naming the repository', async () => {
    const { root } = await freshRepo();
    const repo = await reopen(root, { appendOnly: true });
    const error = await caught(repo.prune());
    expect(error.code).toBe('SHIP_REPO_APPEND_ONLY');
    expect(error.message).toContain(root);
  });

  it('tolerates a crash between writing the new index and deleting the old one', async () => {
    const { repo, backend, root } = await freshRepo();
    const data = randomBytes(150 * 1024);
    const first = await backup(repo, randomBytes(150 * 1024));
    const kept = await backup(repo, data);
    await repo.forget({ ids: [first] });
    const indexBefore = await objectNames(backend, FileType.index);
    armFailpoints('prune.index.written=1');
    await expect(repo.prune({ graceMs: 0 })).rejects.toSatisfy(isSimulatedCrash);
    disarmFailpoints();
    const after = await objectNames(backend, FileType.index);
    expect(after.length).toBeGreaterThan(indexBefore.length);
    const fresh = await reopen(root);
    expect((await restoreBytes(fresh, kept)).equals(data)).toBe(true);
    await fresh.prune({ graceMs: 0 });
    await fresh.prune({ graceMs: 0 });
    expect((await restoreBytes(fresh, kept)).equals(data)).toBe(true);
    expect((await fresh.check({ readData: true })).ok).toBe(true);
    expect(existsSync(join(root, 'marks'))).toBe(true);
  });
});

/** The repository's encryption sub-key, opened from its key file, for placing locks directly. */
async function keyOf(repository: Repository): Promise<Buffer> {
  const file = parseKeyFileText(
    (await repository.backend.get(FileType.keys, repository.keyId)).toString('utf8'),
    repository.keyId,
  );
  return deriveSubkeys(await openKeyFile(file, TEST_PASSWORD, { id: repository.keyId })).encryption;
}
