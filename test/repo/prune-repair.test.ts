import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';

import { armFailpoints, disarmFailpoints, isSimulatedCrash } from '../../src/core/index.js';
import {
  FileType,
  Repository,
  openFsBackend,
  type FsBackend,
  type InitOptions,
} from '../../src/repo/index.js';

const PASSWORD = 'correct horse battery staple';
const FAST: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  packTargetBytes: 64 * 1024,
  workers: 1,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  disarmFailpoints();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshRepo(): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-repair-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'repo');
  const backend = openFsBackend(root);
  const repo = await Repository.init(backend, PASSWORD, FAST);
  cleanups.push(() => repo.close());
  return { repo, backend, root };
}

// eslint-disable-next-line @typescript-eslint/require-await
async function* once(data: Buffer): AsyncGenerator<Uint8Array> {
  yield data;
}

async function restore(repo: Repository, snapshot: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk);
      done();
    },
  });
  await repo.restoreStream(snapshot, sink);
  return Buffer.concat(parts);
}

async function names(backend: FsBackend, type: FileType): Promise<string[]> {
  const found: string[] = [];
  for await (const { name } of backend.list(type)) found.push(name);
  return found.sort();
}

describe('repo repair index', () => {
  it('rebuilds a lost index from the packs, deletes the old files, and restores work again', async () => {
    const { repo, backend, root } = await freshRepo();
    const data = randomBytes(200 * 1024);
    const { snapshotId } = await repo.backupStream(once(data), {
      source: { type: 'stream', name: 'orders' },
    });
    const packs = await names(backend, FileType.data);
    // Lose every index file, and leave a damaged one behind.
    for (const name of await names(backend, FileType.index)) {
      await backend.remove(FileType.index, name);
    }
    await backend.put(FileType.index, 'f'.repeat(64), randomBytes(200));
    const broken = await Repository.open(openFsBackend(root), PASSWORD, FAST);
    cleanups.push(() => broken.close());
    await expect(restore(broken, snapshotId)).rejects.toThrow();

    const result = await broken.repairIndex();
    expect(result.packs).toBe(packs.length);
    expect(result.unreadablePacks).toEqual([]);
    expect(result.indexFiles.deleted).toBe(1);
    expect(await names(backend, FileType.index)).not.toContain('f'.repeat(64));
    expect((await restore(broken, snapshotId)).equals(data)).toBe(true);
    expect((await broken.check({ readData: true })).ok).toBe(true);
  });

  it('names a pack whose table of contents is unreadable, keeps it and its old index entries', async () => {
    const { repo, backend } = await freshRepo();
    const data = randomBytes(200 * 1024);
    const { snapshotId } = await repo.backupStream(once(data), {
      source: { type: 'stream', name: 'orders' },
    });
    const [victim] = await names(backend, FileType.data);
    const bytes = await backend.get(FileType.data, victim ?? '');
    // Break the trailer magic: the TOC cannot be found, the blobs are intact.
    bytes[bytes.length - 1] = 0;
    await backend.remove(FileType.data, victim ?? '');
    await backend.put(FileType.data, victim ?? '', bytes);

    const result = await repo.repairIndex();
    expect(result.unreadablePacks.map((p) => p.pack)).toEqual([victim]);
    expect(result.carriedOver).toEqual([victim]);
    expect(await backend.stat(FileType.data, victim ?? '')).toBeDefined();
    expect((await restore(repo, snapshotId)).equals(data)).toBe(true);
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
    const fresh = await Repository.open(openFsBackend(root), PASSWORD, FAST);
    cleanups.push(() => fresh.close());
    expect((await restore(fresh, snapshotId)).equals(data)).toBe(true);
    await fresh.repairIndex();
    expect((await fresh.check({ readData: true })).ok).toBe(true);
  });
});
