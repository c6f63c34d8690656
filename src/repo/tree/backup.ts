import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

import { ShipError } from '../../core/index.js';

import type { BlobSink } from './blob-sink.js';
import { encodeTree, type TreeEntry } from './format.js';

/** Bytes read from a file per read call. */
const READ_BYTES = 1024 * 1024;
/** Smallest read buffer (files that grew since fstat are read on in pieces of at least this). */
const MIN_READ_BYTES = 4096;
/** Directory entries looked up ahead of the walk, per directory. */
const PREFETCH_ENTRIES = 16;
/** Files up to this size are read whole ahead of the walk. */
const PREFETCH_FILE_BYTES = 256 * 1024;
/** Most file bytes held ahead of the walk at once, over all directories. */
const PREFETCH_BUDGET_BYTES = 8 * 1024 * 1024;

/**
 * Backs up `paths` (files, directories or symlinks; relative ones against the process's
 * working directory) through `sink`, depth first, and returns the root tree's id. The root
 * tree holds one entry per path, named by its basename. Symlinks are recorded, never
 * followed; sockets, FIFOs and device nodes are skipped. Any path that cannot be read fails
 * the whole backup with `SHIP_REPO_SOURCE_UNREADABLE` (exit 3) naming it.
 */
export async function backupPaths(sink: BlobSink, paths: readonly string[]): Promise<string> {
  if (paths.length === 0) {
    throw ShipError.usage('SHIP_REPO_NO_PATHS', 'no paths to back up', {
      hint: 'give one or more files or directories',
    });
  }
  const seen = new Map<string, string>();
  const prefetcher = new Prefetcher();
  const entries: TreeEntry[] = [];
  for (const given of paths) {
    const path = resolve(given);
    const name = basename(path);
    if (name === '') {
      throw ShipError.usage('SHIP_REPO_BAD_PATH', `cannot back up ${path} itself`, {
        hint: 'give the directories below it instead',
      });
    }
    const other = seen.get(name);
    if (other !== undefined) {
      throw ShipError.usage(
        'SHIP_REPO_DUPLICATE_NAME',
        `${other} and ${path} would both be stored as "${name}" at the top of the snapshot`,
        { hint: 'back them up in separate snapshots, or give their common parent directory' },
      );
    }
    seen.set(name, path);
    const entry = await backupEntry(sink, path, name, prefetcher);
    if (entry !== undefined) entries.push(entry);
  }
  return sink.storeTree(encodeTree(entries));
}

/** What was looked up (and, for a small file, read) ahead of the walk. */
interface Prefetched {
  stats: BigIntStats;
  /** A small regular file, read whole: its metadata from the open descriptor, and bytes. */
  file?: { opened: BigIntStats; parts: Buffer[]; bytes: number };
}

/**
 * Looks up directory entries ahead of the walk, a few at a time, and reads small files whole,
 * so the walk does not wait on one file-system round trip after another. File bytes held
 * ahead never exceed {@link PREFETCH_BUDGET_BYTES} across all directories of the walk.
 */
class Prefetcher {
  #held = 0;

  /** Starts looking `path` up; the promise never rejects unhandled. */
  start(path: string): Promise<Prefetched> {
    const task = this.#fetch(path);
    task.catch(() => undefined);
    return task;
  }

  /** The walk consumed a prefetched file: its bytes no longer count. */
  release(fetched: Prefetched): void {
    if (fetched.file !== undefined) this.#held -= fetched.file.bytes;
  }

  async #fetch(path: string): Promise<Prefetched> {
    const stats = await guard(path, () => lstat(path, { bigint: true }));
    const size = Number(stats.size);
    if (!stats.isFile() || size > PREFETCH_FILE_BYTES) return { stats };
    if (this.#held + size > PREFETCH_BUDGET_BYTES) return { stats };
    // Reserve before reading; files that grew past the limit are read again in the walk.
    this.#held += size;
    let reserved = size;
    try {
      const handle = await guard(path, () => open(path, constants.O_RDONLY | constants.O_NOFOLLOW));
      try {
        const opened = await guard(path, () => handle.stat({ bigint: true }));
        if (!opened.isFile()) return { stats };
        const parts: Buffer[] = [];
        let bytes = 0;
        for await (const part of readAll(handle, path, Number(opened.size))) {
          parts.push(part);
          bytes += part.length;
          if (bytes > PREFETCH_FILE_BYTES) return { stats };
        }
        this.#held += bytes - reserved;
        const fetched: Prefetched = { stats, file: { opened, parts, bytes } };
        reserved = 0; // now owned by `fetched`, released by the walk
        return fetched;
      } finally {
        await handle.close();
      }
    } finally {
      this.#held -= reserved;
    }
  }
}

async function backupEntry(
  sink: BlobSink,
  path: string,
  name: string,
  prefetcher: Prefetcher,
  fetched?: Prefetched,
): Promise<TreeEntry | undefined> {
  const stats = fetched?.stats ?? (await guard(path, () => lstat(path, { bigint: true })));
  if (stats.isSymbolicLink()) {
    const target = await guard(path, () => readlink(path, { encoding: 'buffer' }));
    return {
      ...meta(name, stats),
      type: 'symlink',
      size: target.length,
      target: utf8(target, path, 'its target'),
    };
  }
  if (stats.isDirectory()) {
    const names = await guard(path, () => readdir(path, { encoding: 'buffer' }));
    names.sort((a, b) => Buffer.compare(a, b));
    const childNames = names.map((raw) => utf8(raw, path, 'an entry name'));
    const children: TreeEntry[] = [];
    const window: Promise<Prefetched>[] = [];
    let next = 0;
    const fill = () => {
      while (window.length < PREFETCH_ENTRIES && next < childNames.length) {
        window.push(prefetcher.start(join(path, childNames[next++] ?? '')));
      }
    };
    try {
      fill();
      for (const child of childNames) {
        const ahead = await (window.shift() as Promise<Prefetched>);
        fill();
        const entry = await backupEntry(sink, join(path, child), child, prefetcher, ahead);
        if (entry !== undefined) children.push(entry);
      }
    } finally {
      for (const settled of await Promise.allSettled(window.splice(0))) {
        if (settled.status === 'fulfilled') prefetcher.release(settled.value);
      }
    }
    const subtree = await sink.storeTree(encodeTree(children));
    return { ...meta(name, stats), type: 'dir', size: 0, subtree };
  }
  if (!stats.isFile()) return undefined;
  if (fetched?.file !== undefined) {
    const { opened, parts } = fetched.file;
    try {
      const content = await sink.storeContent(parts);
      return { ...meta(name, opened), type: 'file', ...content };
    } finally {
      prefetcher.release(fetched);
    }
  }
  // O_NOFOLLOW: a file swapped for a symlink since lstat is not read through.
  const handle = await guard(path, () => open(path, constants.O_RDONLY | constants.O_NOFOLLOW));
  try {
    const opened = await guard(path, () => handle.stat({ bigint: true }));
    if (!opened.isFile()) return undefined;
    const content = await sink.storeContent(readAll(handle, path, Number(opened.size)));
    return { ...meta(name, opened), type: 'file', ...content };
  } finally {
    await handle.close();
  }
}

function meta(name: string, stats: BigIntStats) {
  return {
    name,
    mode: Number(stats.mode & 0o7777n),
    mtimeNs: stats.mtimeNs.toString(),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
  };
}

/**
 * Reads a file to its end in fresh buffers (the chunker may keep references to them), sized
 * by what the file should still hold, so an unchanged small file costs one small buffer and
 * one read.
 */
async function* readAll(handle: FileHandle, path: string, size: number): AsyncGenerator<Buffer> {
  let read = 0;
  for (;;) {
    // One byte more than expected, so an unchanged file ends with a short read.
    const length = Math.min(READ_BYTES, Math.max(size - read + 1, MIN_READ_BYTES));
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await guard(path, () => handle.read(buffer, 0, length, null));
    if (bytesRead > 0) yield buffer.subarray(0, bytesRead);
    read += bytesRead;
    // A short read at or past the expected size is the end; before it (FUSE, NFS) read on.
    if (bytesRead === 0 || (bytesRead < length && read >= size)) return;
  }
}

/** Decodes a name or link target; names that are not valid UTF-8 cannot be stored. */
function utf8(raw: Buffer, path: string, what: string): string {
  const text = raw.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(raw)) {
    throw ShipError.runtime(
      'SHIP_REPO_SOURCE_NAME',
      `${path}: ${what} (${JSON.stringify(text)}) is not valid UTF-8, which snapshots cannot store`,
      { details: { path, bytes: raw.toString('hex') }, hint: 'rename it, or leave it out' },
    );
  }
  return text;
}

async function guard<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw ShipError.runtime(
      'SHIP_REPO_SOURCE_UNREADABLE',
      `cannot read ${path}: ${(error as Error).message}`,
      {
        cause: error,
        details: { path, ...(code === undefined ? {} : { errno: code }) },
        hint: 'check that the path exists and is readable by this user, or leave it out; no snapshot was written',
      },
    );
  }
}
