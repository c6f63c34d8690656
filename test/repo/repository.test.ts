import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  FileType,
  Repository,
  loadMasterIndex,
  openFsBackend,
  rebuildIndexFromPacks,
  deriveSubkeys,
  openKeyFile,
  parseKeyFileText,
  type FsBackend,
  type RepoSubkeys,
  type IndexEntry,
  type InitOptions,
} from '../../src/repo/index.js';

const PASSWORD = 'correct horse battery staple';
/** Cheap scrypt and tiny chunks and packs keep the suite fast. */
const FAST: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  packTargetBytes: 64 * 1024,
  workers: 2,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function freshBackend(): Promise<{ backend: FsBackend; root: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-repository-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'repo');
  return { backend: openFsBackend(root), root };
}

async function freshRepo(): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  const { backend, root } = await freshBackend();
  const repo = await Repository.init(backend, PASSWORD, FAST);
  cleanups.push(() => repo.close());
  return { repo, backend, root };
}

/** Feeds `data` in pieces of `piece` bytes, as a file stream would. */
async function* pieces(data: Buffer, piece = 10_000): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += piece) {
    await Promise.resolve();
    yield data.subarray(at, at + piece);
  }
}

/** A Writable collecting everything written to it. */
function sink(): { out: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(Buffer.from(chunk));
      callback();
    },
  });
  return { out, bytes: () => Buffer.concat(parts) };
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

async function roundTrip(repo: Repository, data: Buffer): Promise<Buffer> {
  const result = await repo.backupStream(pieces(data), { source: { type: 'stream', name: 's' } });
  expect(result.bytesRead).toBe(data.length);
  const { out, bytes } = sink();
  const restored = await repo.restoreStream(result.snapshotId, out);
  expect(restored.bytesWritten).toBe(data.length);
  return bytes();
}

describe('Repository stream round trips', () => {
  const cases: [string, () => Buffer][] = [
    ['empty', () => Buffer.alloc(0)],
    ['1 byte', () => Buffer.from([42])],
    ['random, larger than several packs', () => randomBytes(600 * 1024)],
    ['highly compressible', () => Buffer.alloc(512 * 1024, 'a')],
    [
      'text-like',
      () =>
        Buffer.from(
          Array.from({ length: 20_000 }, (_, i) => `row ${i} value ${i % 97}\n`).join(''),
        ),
    ],
  ];
  for (const [name, make] of cases) {
    it(`restores ${name} data byte for byte`, async () => {
      const { repo } = await freshRepo();
      const data = make();
      expect((await roundTrip(repo, data)).equals(data)).toBe(true);
    });
  }

  it('stores highly compressible data in a fraction of its size', async () => {
    const { repo } = await freshRepo();
    const data = Buffer.alloc(512 * 1024, 'a');
    const result = await repo.backupStream(pieces(data), { source: { type: 'stream' } });
    expect(result.bytesStored).toBeLessThan(data.length / 10);
  });

  it('splits a long stream over several content lists and restores it from a fresh handle', async () => {
    const { backend } = await freshBackend();
    // Chunks of 65–256 bytes: 2 MiB gives over 8192 chunks, more than one content list.
    const repo = await Repository.init(backend, PASSWORD, {
      ...FAST,
      chunker: { minSize: 64, avgSize: 128, maxSize: 256 },
      packTargetBytes: 1024 * 1024,
    });
    const data = randomBytes(2 * 1024 * 1024);
    const result = await repo.backupStream(pieces(data), { source: { type: 'stream' } });
    await repo.close();
    const [snapshot] = await (await Repository.open(backend, PASSWORD)).snapshots();
    expect(
      snapshot?.manifest.content.type === 'stream' && snapshot.manifest.content.lists.length,
    ).toBeGreaterThan(1);
    const reopened = await Repository.open(backend, PASSWORD, FAST);
    cleanups.push(() => reopened.close());
    const { out, bytes } = sink();
    await reopened.restoreStream(result.snapshotId.slice(0, 8), out);
    expect(bytes().equals(data)).toBe(true);
  });
});

describe('Repository backup edge cases', () => {
  it('restore into an output that is already closed fails instead of waiting forever', async () => {
    const { repo } = await freshRepo();
    const data = randomBytes(200_000);
    const { snapshotId } = await repo.backupStream(pieces(data), {
      source: { type: 'stream', name: 'gone' },
    });
    // A child's stdin after the child exited: destroyed before the restore writes to it.
    const out = new Writable({
      highWaterMark: 1,
      write: (_chunk, _encoding, done) => {
        done();
      },
    });
    out.destroy();
    await expect(repo.restoreStream(snapshotId, out)).rejects.toThrow(/closed|destroyed/);
  });

  it('reports progress and leaves no snapshot when the source fails', async () => {
    const { repo, backend } = await freshRepo();
    const seen: number[] = [];
    const partial = randomBytes(200 * 1024);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(partial);
      throw new Error('dump process died');
    }
    await expect(
      repo.backupStream(
        failing(),
        { source: { type: 'stream' } },
        {
          onProgress: (p) => seen.push(p.bytesRead),
        },
      ),
    ).rejects.toThrow('dump process died');
    expect(seen.length).toBeGreaterThan(0);
    expect(await repo.snapshots()).toEqual([]);
    // The handle stays usable, and what it reuses from the failed run is indexed on disk:
    // a fresh handle restores the next snapshot, which dedups against the failed run's packs.
    const data = Buffer.concat([partial, randomBytes(50 * 1024)]);
    const result = await repo.backupStream(pieces(data), { source: { type: 'stream' } });
    expect(result.newChunks).toBeLessThan(result.chunks);
    const fresh = await Repository.open(backend, PASSWORD, FAST);
    cleanups.push(() => fresh.close());
    const { out, bytes } = sink();
    await fresh.restoreStream('latest', out);
    expect(bytes().equals(data)).toBe(true);
  });
});

describe('Repository dedup and snapshots', () => {
  it('stores nothing new when the same data is backed up again', async () => {
    const { repo, backend } = await freshRepo();
    const data = randomBytes(300 * 1024);
    const first = await repo.backupStream(pieces(data), {
      source: { type: 'datastore', name: 'orders', kind: 'postgres' },
      tags: ['nightly'],
      consistentPoint: { kind: 'lsn', value: '0/16B3748' },
    });
    expect(first.newChunks).toBe(first.chunks);
    // A fresh handle dedups against the index files alone.
    const again = await Repository.open(backend, PASSWORD, FAST);
    cleanups.push(() => again.close());
    const second = await again.backupStream(pieces(data, 777), {
      source: { type: 'datastore', name: 'orders', kind: 'postgres' },
    });
    expect(second.newChunks).toBe(0);
    expect(second.bytesNew).toBe(0);
    expect(second.bytesStored).toBe(0);
    expect(second.chunks).toBe(first.chunks);
    expect(second.consistentPoint).toBeUndefined();
    expect(first.consistentPoint).toEqual({ kind: 'lsn', value: '0/16B3748' });

    const all = await again.snapshots();
    expect(all.map((s) => s.id)).toEqual([first.snapshotId, second.snapshotId]);
    expect((await again.snapshots({ tag: 'nightly' })).map((s) => s.id)).toEqual([
      first.snapshotId,
    ]);
    expect(await again.snapshots({ source: 'other' })).toEqual([]);
    expect((await again.resolveSnapshot('latest')).id).toBe(second.snapshotId);
    expect((await again.resolveSnapshot('latest', { tag: 'nightly' })).id).toBe(first.snapshotId);
    const manifest = all[0]?.manifest;
    expect(manifest?.source).toEqual({ type: 'datastore', name: 'orders', kind: 'postgres' });
    expect(manifest?.sizes.logicalBytes).toBe(data.length);
    expect(manifest?.toolVersions.shipshape).toBeTypeOf('string');
  });

  it('reports unknown and malformed snapshot references', async () => {
    const { repo } = await freshRepo();
    expect((await caught(repo.resolveSnapshot('latest'))).code).toBe(
      'SHIP_REPO_SNAPSHOT_NOT_FOUND',
    );
    expect((await caught(repo.resolveSnapshot('abcd'))).code).toBe('SHIP_REPO_SNAPSHOT_NOT_FOUND');
    expect((await caught(repo.resolveSnapshot('../x'))).code).toBe('SHIP_REPO_BAD_SNAPSHOT_REF');
  });
});

describe('Repository keys and config', () => {
  it('refuses a wrong password with exit 12 and opens with any added key', async () => {
    const { repo, backend } = await freshRepo();
    const error = await caught(Repository.open(backend, 'wrong'));
    expect(error.code).toBe('SHIP_REPO_WRONG_KEY');
    expect(error.exitCode).toBe(12);

    const second = await repo.addKey('second password', 'ci');
    const opened = await Repository.open(backend, 'second password');
    expect(opened.keyId).toBe(second);
    const keys = await opened.listKeys();
    expect(keys.map((k) => k.id).sort()).toEqual([repo.keyId, second].sort());
    expect(keys.find((k) => k.id === second)).toMatchObject({ current: true, label: 'ci' });

    await opened.removeKey(repo.keyId);
    expect((await caught(Repository.open(backend, PASSWORD))).code).toBe('SHIP_REPO_WRONG_KEY');
    const last = await caught(opened.removeKey(second));
    expect(last.code).toBe('SHIP_REPO_LAST_KEY');
    expect(last.exitCode).toBe(2);
    expect((await caught(opened.removeKey('0'.repeat(64)))).code).toBe('SHIP_REPO_KEY_NOT_FOUND');
  });

  it('says a newer shipshape is needed when every key file is of an unknown version', async () => {
    const { repo, root, backend } = await freshRepo();
    const path = join(root, 'keys', repo.keyId);
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...file, version: 2 }));
    const error = await caught(Repository.open(backend, PASSWORD));
    expect(error.code).toBe('SHIP_REPO_UNSUPPORTED_VERSION');
  });

  it('refuses to init over a repository and to open a folder that is not one', async () => {
    const { backend } = await freshRepo();
    expect((await caught(Repository.init(backend, PASSWORD, FAST))).code).toBe('SHIP_REPO_EXISTS');
    const empty = await freshBackend();
    const error = await caught(Repository.open(empty.backend, PASSWORD));
    expect(error.code).toBe('SHIP_REPO_NOT_A_REPOSITORY');
    expect(error.exitCode).toBe(2);
    expect(error.hint).toContain('repo init');
  });

  it('writes a plaintext config and refuses an unknown version', async () => {
    const { root, backend } = await freshRepo();
    const config = JSON.parse(await readFile(join(root, 'config'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      format: 'shipshape-repository',
      version: 1,
      chunker: FAST.chunker && { min: 1024, avg: 4096, max: 16 * 1024 },
      compression: { level: 3 },
    });
    await writeFile(join(root, 'config'), JSON.stringify({ ...config, version: 2 }));
    const error = await caught(Repository.open(backend, PASSWORD));
    expect(error.code).toBe('SHIP_REPO_UNSUPPORTED_VERSION');
    expect(error.message).toContain('version 2');
    expect(error.message).toContain('newer shipshape');
  });
});

describe('Repository damage', () => {
  it('fails a restore loudly on a flipped byte in a pack and writes no wrong bytes', async () => {
    const { repo, backend } = await freshRepo();
    const data = randomBytes(200 * 1024);
    const result = await repo.backupStream(pieces(data), { source: { type: 'stream' } });
    // Flip one byte in the middle of the first data blob of some pack.
    const index = await loadMasterIndex(backend, (await keysOf(repo)).encryption);
    const victim = [...index.entries()].filter((entry) => entry.type === 'data')[3];
    if (victim === undefined) throw new Error('expected several data blobs');
    const path = backend.pathOf(FileType.data, victim.pack);
    const bytes = await readFile(path);
    const at = victim.offset + Math.floor(victim.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    await writeFile(path, bytes);

    const { out, bytes: written } = sink();
    const error = await caught(repo.restoreStream(result.snapshotId, out));
    expect(error.code).toBe('SHIP_REPO_CORRUPT');
    expect(error.exitCode).toBe(11);
    expect(error.message).toContain(result.snapshotId);
    expect(error.message).toContain(victim.id);
    // Whatever was written before the damaged chunk is a correct prefix of the data.
    const prefix = written();
    expect(prefix.length).toBeLessThan(data.length);
    expect(prefix.equals(data.subarray(0, prefix.length))).toBe(true);
  });

  it('rebuilds from the packs alone an index equal to the written one', async () => {
    const { repo, backend } = await freshRepo();
    await repo.backupStream(pieces(randomBytes(400 * 1024)), { source: { type: 'stream' } });
    await repo.backupStream(pieces(Buffer.alloc(100 * 1024, 'z')), { source: { type: 'stream' } });
    const key = await keysOf(repo);
    const written = [...(await loadMasterIndex(backend, key.encryption)).entries()];
    const { index, damaged, packs } = await rebuildIndexFromPacks(backend, key);
    expect(damaged).toEqual([]);
    const sort = (list: IndexEntry[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
    expect(sort([...index.entries()])).toEqual(sort(written));
    expect(packs.length).toBeGreaterThan(2);
    expect(await readdir(join(backend.location, 'index'))).toHaveLength(2);
  });
});

/** The repository's sub-keys, derived from its key file as an independent reader would. */
async function keysOf(repo: Repository): Promise<RepoSubkeys> {
  const text = (await repo.backend.get(FileType.keys, repo.keyId)).toString('utf8');
  const master = await openKeyFile(parseKeyFileText(text, repo.keyId), PASSWORD, {
    id: repo.keyId,
  });
  return deriveSubkeys(master);
}
