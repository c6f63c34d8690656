import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  Repository,
  openFsBackend,
  type FsBackend,
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

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `shipshape-tree-${prefix}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function freshRepo(): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  const root = join(await tempDir('repo'), 'repo');
  const backend = openFsBackend(root);
  const repo = await Repository.init(backend, PASSWORD, FAST);
  cleanups.push(() => repo.close());
  return { repo, backend, root };
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

const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

/**
 * A source tree with every case the format must carry: empty, 1-byte, multi-pack, sparse and
 * compressible files; unicode names (NFC and NFD as two names); relative, absolute and
 * dangling symlinks; 0600/0755 files, a 0700 directory; chosen mtimes.
 */
async function makeSource(): Promise<string> {
  const src = join(await tempDir('src'), 'data');
  await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
  await writeFile(join(src, 'empty'), '');
  await writeFile(join(src, 'one'), 'x');
  // ≈ 5 packs of 64 KiB and ≈ 80 chunks: content lists, not inline ids.
  await writeFile(join(src, 'nested', 'big.bin'), randomBytes(320 * 1024));
  await writeFile(join(src, 'compressible.txt'), Buffer.alloc(512 * 1024, 'shipshape '));
  const sparse = join(src, 'sparse.img');
  await writeFile(sparse, 'head');
  await truncate(sparse, 8 * 1024 * 1024);
  const handle = await open(sparse, 'r+');
  await handle.write(Buffer.from('middle'), 0, 6, 4 * 1024 * 1024);
  await handle.close();
  await writeFile(join(src, NFC), 'composed');
  await writeFile(join(src, NFD), 'decomposed');
  await writeFile(join(src, 'nested', '日本語 ✓.txt'), 'unicode');
  await symlink('../one', join(src, 'nested', 'relative-link'));
  await symlink('/etc/hostname', join(src, 'absolute-link'));
  await symlink('missing/nowhere', join(src, 'dangling-link'));
  await writeFile(join(src, 'secret'), 'private');
  await chmod(join(src, 'secret'), 0o600);
  await writeFile(join(src, 'tool.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(src, 'tool.sh'), 0o755);
  await mkdir(join(src, 'private'));
  await writeFile(join(src, 'private', 'inner'), 'inner');
  await chmod(join(src, 'private'), 0o700);
  // Skipped, never opened (opening a FIFO would block).
  execFileSync('mkfifo', [join(src, 'nested', 'fifo')]);
  await utimes(join(src, 'one'), 1_000_000_000, 1_000_000_000.25);
  await utimes(join(src, 'nested', 'deeper'), 1_500_000_000, 1_500_000_000);
  await utimes(join(src, 'nested'), 1_600_000_000, 1_600_000_123.5);
  return src;
}

interface Node {
  type: string;
  mode: number;
  mtimeMs: number;
  content?: string;
  target?: string;
}

/** Everything a restore must reproduce, keyed by relative path. */
async function describeTree(root: string): Promise<Map<string, Node>> {
  const nodes = new Map<string, Node>();
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const key = rel === '' ? name : `${rel}/${name}`;
      const stats = await lstat(path);
      if (stats.isFIFO()) continue; // never backed up
      const node: Node = {
        type: stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'dir' : 'file',
        mode: stats.mode & 0o7777,
        // Restored times are exact to well under a millisecond.
        mtimeMs: Math.round(stats.mtimeMs),
      };
      if (node.type === 'file') {
        node.content = (await readFile(path)).toString('base64');
      } else if (node.type === 'symlink') {
        node.target = await readlink(path);
      }
      nodes.set(key, node);
      if (node.type === 'dir') await walk(path, key);
    }
  };
  await walk(root, '');
  return nodes;
}

describe('Repository.backupTree / restoreTree', () => {
  it('round-trips files, dirs, symlinks, modes, mtimes and unicode names; dedups a second run', async () => {
    const { repo, root } = await freshRepo();
    const src = await makeSource();
    const first = await repo.backupTree([src], {
      source: { type: 'paths', name: 'data', paths: [src] },
      tags: ['t1'],
    });
    const sparseAndBig = 8 * 1024 * 1024 + 320 * 1024 + 512 * 1024;
    expect(first.bytesRead).toBeGreaterThan(sparseAndBig);
    expect(first.newChunks).toBeGreaterThan(0);
    // The random file alone spans several packs.
    expect((await readdir(join(root, 'data'), { recursive: true })).length).toBeGreaterThan(5);

    const target = join(await tempDir('restore'), 'out');
    const restored = await repo.restoreTree(first.snapshotId.slice(0, 8), target);
    expect(restored.snapshotId).toBe(first.snapshotId);
    expect(restored.symlinks).toBe(3);

    const want = await describeTree(join(src, '..'));
    const got = await describeTree(target);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [key, node] of want) expect(got.get(key), key).toEqual(node);
    expect(got.get(`data/${NFC}`)?.content).not.toEqual(got.get(`data/${NFD}`)?.content);
    expect(got.get('data/secret')?.mode).toBe(0o600);
    expect(got.get('data/tool.sh')?.mode).toBe(0o755);
    expect(got.get('data/private')?.mode).toBe(0o700);
    expect(got.get('data/nested')?.mtimeMs).toBe(1_600_000_123_500);

    const second = await repo.backupTree([src], {
      source: { type: 'paths', name: 'data', paths: [src] },
    });
    expect(second.newChunks).toBe(0);
    expect(second.bytesNew).toBe(0);
    expect(second.bytesStored).toBe(0);
    const manifest = (await repo.resolveSnapshot(second.snapshotId)).manifest;
    expect(manifest.content.type).toBe('tree');
    expect(manifest.source).toEqual({ type: 'paths', name: 'data', paths: [src] });
  });

  it('backs up several paths (a file among them) as entries of the root', async () => {
    const { repo } = await freshRepo();
    const dir = await tempDir('multi');
    await writeFile(join(dir, 'a.txt'), 'A');
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'b', 'c'), 'C');
    const result = await repo.backupTree([join(dir, 'a.txt'), join(dir, 'b')], {
      source: { type: 'paths', paths: [] },
    });
    const target = await tempDir('multi-out');
    await repo.restoreTree(result.snapshotId, target);
    expect((await readdir(target)).sort()).toEqual(['a.txt', 'b']);
    expect(await readFile(join(target, 'b', 'c'), 'utf8')).toBe('C');

    const duplicate = await caught(
      repo.backupTree([join(dir, 'b'), join(dir, 'b', '..', 'b')], {
        source: { type: 'paths' },
      }),
    );
    expect(duplicate.code).toBe('SHIP_REPO_DUPLICATE_NAME');
  });

  it('refuses a non-empty target without force; with force it never writes through a symlink', async () => {
    const { repo } = await freshRepo();
    const src = join(await tempDir('src'), 'top');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub', 'file'), 'restored');
    const { snapshotId } = await repo.backupTree([src], { source: { type: 'paths' } });

    const target = await tempDir('busy');
    const outside = await tempDir('outside');
    await writeFile(join(target, 'keep.txt'), 'mine');
    // A planted symlink where the snapshot has a directory must be replaced, not followed.
    await symlink(outside, join(target, 'top'));

    const refused = await caught(repo.restoreTree(snapshotId, target));
    expect(refused.code).toBe('SHIP_REPO_TARGET_NOT_EMPTY');
    expect(refused.exitCode).toBe(2);
    expect(refused.hint).toContain('--force');

    await repo.restoreTree(snapshotId, target, { force: true });
    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(join(target, 'top'))).isDirectory()).toBe(true);
    expect(await readFile(join(target, 'top', 'sub', 'file'), 'utf8')).toBe('restored');
    expect(await readFile(join(target, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('fails a restore with exit 11 when a pack byte is flipped, leaving no wrong file', async () => {
    const { repo, root } = await freshRepo();
    const src = join(await tempDir('src'), 'payload');
    await mkdir(src);
    await writeFile(join(src, 'data.bin'), randomBytes(200 * 1024));
    const { snapshotId } = await repo.backupTree([src], { source: { type: 'paths' } });

    const packs = (await readdir(join(root, 'data'), { recursive: true, withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => join(d.parentPath, d.name));
    expect(packs.length).toBeGreaterThan(0);
    for (const pack of packs) {
      const bytes = await readFile(pack);
      bytes[20] = (bytes[20] ?? 0) ^ 0x01; // the first blob's first ciphertext byte
      await writeFile(pack, bytes);
    }
    const target = await tempDir('corrupt-out');
    const error = await caught(repo.restoreTree(snapshotId, target));
    expect(error.code).toBe('SHIP_REPO_CORRUPT');
    expect(error.exitCode).toBe(11);
    expect(error.message).toContain(snapshotId);
    expect(existsSync(join(target, 'payload', 'data.bin'))).toBe(false);
  });

  it('points a stream snapshot to --stdout', async () => {
    const { repo } = await freshRepo();
    const { snapshotId } = await repo.backupStream(
      (async function* () {
        await Promise.resolve();
        yield Buffer.from('stream');
      })(),
      {
        source: { type: 'stream', name: 's' },
      },
    );
    const error = await caught(repo.restoreTree(snapshotId, await tempDir('stream-out')));
    expect(error.code).toBe('SHIP_REPO_NOT_A_TREE');
    expect(error.exitCode).toBe(2);
    expect(error.hint).toContain('--stdout');
  });

  it('fails the backup naming an unreadable path, and writes no snapshot', async () => {
    const { repo } = await freshRepo();
    const dir = await tempDir('unreadable');
    await writeFile(join(dir, 'fine'), 'ok');
    const missing = join(dir, 'does-not-exist');
    const error = await caught(
      repo.backupTree([join(dir, 'fine'), missing], { source: { type: 'paths' } }),
    );
    expect(error.code).toBe('SHIP_REPO_SOURCE_UNREADABLE');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain(missing);

    // A file that opens but fails to read (EIO) inside a directory: /proc/self/mem at offset 0.
    if (existsSync('/proc/self/mem')) {
      const procError = await caught(
        repo.backupTree(['/proc/self/mem'], { source: { type: 'paths' } }),
      );
      expect(procError.code).toBe('SHIP_REPO_SOURCE_UNREADABLE');
      expect(procError.message).toContain('/proc/self/mem');
    }
    // Unreadable inside a directory (permissions do not stop root, so only as another user).
    if (process.getuid?.() !== 0) {
      await mkdir(join(dir, 'tree'));
      await writeFile(join(dir, 'tree', 'locked'), 'no');
      await chmod(join(dir, 'tree', 'locked'), 0o000);
      const locked = await caught(
        repo.backupTree([join(dir, 'tree')], { source: { type: 'paths' } }),
      );
      expect(locked.message).toContain(join(dir, 'tree', 'locked'));
    }
    expect(await repo.snapshots()).toEqual([]);
  });
});
