import { constants } from 'node:fs';
import {
  lchown,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  rm,
  stat,
  symlink,
  chmod,
  utimes,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';

import { ShipError } from '../../core/index.js';
import { repoCorrupt } from '../crypto/index.js';

import type { BlobSource } from './blob-source.js';
import type { FileEntry, TreeEntry } from './format.js';

/** Files up to this size are restored several at a time. */
const SMALL_FILE_BYTES = 256 * 1024;
/** How many small files are restored at once, over the whole restore. */
const PARALLEL_SMALL_FILES = 8;

/** Progress of a tree restore, reported after every chunk written. */
export interface TreeRestoreProgress {
  bytesWritten: number;
  /** The snapshot's `sizes.logicalBytes`. */
  totalBytes: number;
}

/** What a tree restore wrote. */
export interface TreeRestoreStats {
  files: number;
  dirs: number;
  symlinks: number;
  /** Bytes of file content restored (holes included). */
  bytesWritten: number;
}

/**
 * Checks the restore target: creates it when missing; refuses a non-directory
 * (`SHIP_REPO_TARGET_NOT_DIR`) and, without `force`, a non-empty directory
 * (`SHIP_REPO_TARGET_NOT_EMPTY`), both exit 2.
 */
export async function prepareTarget(target: string, force: boolean): Promise<void> {
  const found = await stat(target).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (found === undefined) {
    await mkdir(target, { recursive: true });
    return;
  }
  if (!found.isDirectory()) {
    throw ShipError.usage(
      'SHIP_REPO_TARGET_NOT_DIR',
      `restore target ${target} is not a directory`,
      {
        hint: 'give a new or empty directory with --target',
      },
    );
  }
  const names = await readdir(target);
  if (names.length > 0 && !force) {
    throw ShipError.usage(
      'SHIP_REPO_TARGET_NOT_EMPTY',
      `restore target ${target} is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'})`,
      {
        details: { target, entries: names.length },
        hint: 'give an empty directory, or pass --force to restore into it (entries of the snapshot replace what is there under the same name)',
      },
    );
  }
}

/**
 * Restores the tree `rootId` into the directory `target` (already prepared): depth first,
 * every chunk verified before it is written, directories' modes and times set after their
 * contents. Never follows a symlink when writing: every path is created fresh (what was there
 * is removed first) or is a real directory this restore checked with lstat. Owners are
 * restored only when running as root. A corrupt chunk aborts with `SHIP_REPO_CORRUPT` and the
 * file being written is removed, so no wrong byte stays behind.
 */
export async function restoreTreeInto(
  source: BlobSource,
  rootId: string,
  target: string,
  options: {
    where: string;
    totalBytes: number;
    onProgress?: ((progress: TreeRestoreProgress) => void) | undefined;
  },
): Promise<TreeRestoreStats> {
  const stats: TreeRestoreStats = { files: 0, dirs: 0, symlinks: 0, bytesWritten: 0 };
  const asRoot = process.getuid?.() === 0;

  // Small files are restored a few at a time (their round trips dominate); the rest in order.
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const throwIfFailed = () => {
    if (failure !== undefined) throw failure.error;
  };
  // Resolves once the task is admitted, to a handle on it (an object: a promise would flatten).
  const spawn = async (task: () => Promise<void>): Promise<{ done: Promise<void> }> => {
    while (running.size >= PARALLEL_SMALL_FILES) await Promise.race(running);
    throwIfFailed();
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => running.delete(promise));
    running.add(promise);
    return { done: promise };
  };

  const restoreFile = async (path: string, entry: FileEntry, rel: string) => {
    await clear(path);
    await writeFile(path, entry, `${options.where}, file ${rel}`, asRoot, (n) => {
      stats.bytesWritten += n;
      options.onProgress?.({ bytesWritten: stats.bytesWritten, totalBytes: options.totalBytes });
    });
    stats.files++;
  };

  const restoreDir = async (dir: string, treeId: string, relative: string): Promise<void> => {
    const tree = await source.readTree(treeId, options.where);
    const pending: Promise<void>[] = [];
    try {
      for (const entry of tree.entries) {
        throwIfFailed();
        const path = join(dir, entry.name);
        const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
        switch (entry.type) {
          case 'dir':
            await makeDir(path);
            await restoreDir(path, entry.subtree, rel);
            if (asRoot) await lchown(path, entry.uid, entry.gid);
            await chmod(path, entry.mode);
            await setTimes(path, entry, false);
            stats.dirs++;
            break;
          case 'symlink':
            await clear(path);
            await symlink(entry.target, path);
            if (asRoot) await lchown(path, entry.uid, entry.gid);
            await setTimes(path, entry, true);
            stats.symlinks++;
            break;
          case 'file':
            if (entry.size <= SMALL_FILE_BYTES) {
              pending.push((await spawn(() => restoreFile(path, entry, rel))).done);
            } else {
              await restoreFile(path, entry, rel);
            }
            break;
        }
      }
    } finally {
      // Nothing of this directory may still be writing when it returns or throws.
      await Promise.all(pending);
    }
    throwIfFailed();
  };

  async function writeFile(
    path: string,
    entry: FileEntry,
    where: string,
    owner: boolean,
    wrote: (bytes: number) => void,
  ): Promise<void> {
    // O_EXCL | O_NOFOLLOW: the path was just cleared, so this creates a new regular file.
    const handle = await open(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    let done = false;
    try {
      let position = 0;
      for await (const data of source.chunks(entry, where)) {
        if (position + data.length > entry.size) {
          throw repoCorrupt(where, `content is longer than ${entry.size} bytes`);
        }
        // All-zero chunks are left as holes; the final truncate sets the length.
        if (!isZero(data)) await writeAt(handle, data, position);
        position += data.length;
        wrote(data.length);
      }
      if (position !== entry.size) {
        throw repoCorrupt(where, `content is ${position} bytes, the tree says ${entry.size}`);
      }
      await handle.truncate(position);
      if (owner) await handle.chown(entry.uid, entry.gid);
      await handle.chmod(entry.mode);
      done = true;
    } finally {
      await handle.close();
      if (!done) await rm(path, { force: true });
    }
    await setTimes(path, entry, false);
  }

  try {
    await restoreDir(target, rootId, '');
  } finally {
    await Promise.all(running);
  }
  throwIfFailed();
  return stats;
}

/** A real directory at `path`: kept if it is one (not a symlink to one), else made fresh. */
async function makeDir(path: string): Promise<void> {
  const found = await lstatOrUndefined(path);
  if (found?.isDirectory()) {
    // Its final mode is set after its contents; until then this restore must write into it.
    await chmod(path, (found.mode & 0o7777) | 0o700);
    return;
  }
  if (found !== undefined) await rm(path, { recursive: true, force: true });
  await mkdir(path, { mode: 0o700 });
}

/** Removes whatever is at `path` (a symlink itself, never its target). */
async function clear(path: string): Promise<void> {
  if ((await lstatOrUndefined(path)) !== undefined)
    await rm(path, { recursive: true, force: true });
}

async function lstatOrUndefined(path: string) {
  return lstat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
}

async function setTimes(path: string, entry: TreeEntry, link: boolean): Promise<void> {
  // atime is not recorded: it is set to the mtime.
  const ns = BigInt(entry.mtimeNs);
  const seconds = Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
  if (link) await lutimes(path, seconds, seconds);
  else await utimes(path, seconds, seconds);
}

async function writeAt(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(
      data,
      offset,
      data.length - offset,
      position + offset,
    );
    offset += bytesWritten;
  }
}

let zeros = Buffer.alloc(0);
function isZero(data: Buffer): boolean {
  if (zeros.length < data.length) zeros = Buffer.alloc(data.length);
  return zeros.subarray(0, data.length).equals(data);
}
