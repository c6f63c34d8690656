import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { failpoint, isShipError, isSimulatedCrash } from '../../core/index.js';
import {
  FileType,
  type Backend,
  type BackendCapabilities,
  type ByteRange,
  type ObjectInfo,
  type PutOptions,
} from './backend.js';
import { backendIo, objectExists, objectNotFound, shortObject } from './errors.js';
import { NODE_FS_OPS, type FsFileHandle, type FsOps } from './fs-ops.js';
import { checkFileType, checkObjectName, checkRange } from './names.js';

/** Temp files start with this; object names never start with a dot, so they cannot collide. */
export const FS_TEMP_PREFIX = '.tmp-';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const DATA_FANOUT = /^[0-9a-f]{2}$/;

/** The local backend's guarantees (POSIX rename/link on one filesystem). */
export const FS_CAPABILITIES: BackendCapabilities = Object.freeze({
  atomicCreate: true,
  conditionalPut: true,
  delete: true,
  listAfterWrite: true,
});

/** Points in a put where a crash test can stop the process (deterministic failpoints). */
export type FsFailpoint = 'after-temp-synced';

export interface FsBackendOptions {
  /**
   * Called at each failpoint with the temp file's path; a crash test kills the process here.
   * @default no-op
   */
  readonly failpoint?: (point: FsFailpoint, tempPath: string) => void | Promise<void>;
  /**
   * The file-system calls to make. Crash tests pass a journalling layer that simulates power
   * loss; everything else uses the real file system.
   * @default NODE_FS_OPS (node:fs/promises)
   */
  readonly ops?: FsOps;
}

export interface CleanupOptions {
  /**
   * Remove only temp files untouched for this long, so a put in progress in another process is
   * left alone. Pass 0 only while holding the repository's exclusive lock.
   * @default 3_600_000 (one hour)
   */
  readonly minAgeMs?: number;
}

function errno(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : undefined;
}

async function writeAll(handle: FsFileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.length;) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** Marks an error thrown by the put's data source, so it propagates unwrapped. */
class SourceError extends Error {
  constructor(readonly error: unknown) {
    super('the data source failed');
  }
}

/**
 * The local-directory backend. Layout: `<root>/config`, `<root>/keys/<name>`,
 * `<root>/data/<first 2 hex of name>/<name>`, `<root>/index/<name>`, `<root>/snapshots/<name>`,
 * `<root>/locks/<name>`. Directories are created on demand (mode 0700), files are 0600.
 *
 * A put writes `<dir>/.tmp-<random>`, fsyncs it, then renames it over the final name (or, with
 * `ifAbsent`, hard-links it to the final name, which fails atomically if the name exists, and
 * unlinks the temp), then fsyncs the directory. A crash leaves at most a temp file, which
 * `list` ignores and `cleanup` removes.
 */
export class FsBackend implements Backend {
  readonly capabilities = FS_CAPABILITIES;
  readonly location: string;
  readonly #root: string;
  readonly #failpoint: NonNullable<FsBackendOptions['failpoint']>;
  readonly #ops: FsOps;

  constructor(root: string, options: FsBackendOptions = {}) {
    this.#root = resolve(root);
    this.location = this.#root;
    this.#failpoint = options.failpoint ?? (() => undefined);
    this.#ops = options.ops ?? NODE_FS_OPS;
  }

  /** The path an object lives at (after checking its name). */
  pathOf(type: FileType, name: string): string {
    checkObjectName(type, name);
    if (type === FileType.config) return join(this.#root, 'config');
    if (type === FileType.data) return join(this.#root, 'data', name.slice(0, 2), name);
    return join(this.#root, type, name);
  }

  async put(
    type: FileType,
    name: string,
    data: Buffer | AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<void> {
    const path = this.pathOf(type, name);
    const dir = dirname(path);
    const temp = join(dir, `${FS_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let step = 'create';
    let tempExists = false;
    // Fast path only (the link below is what makes create-only atomic): do not upload a whole
    // object just to find the name taken.
    if (options.ifAbsent === true && (await this.stat(type, name)) !== undefined) {
      throw objectExists(type, name, path);
    }
    const ops = this.#ops;
    try {
      const handle = await this.#createTemp(temp);
      tempExists = true;
      try {
        step = 'write';
        if (data instanceof Uint8Array) {
          await writeAll(handle, data);
        } else {
          await this.#writeStream(handle, data);
        }
        failpoint('backend.put.written');
        step = 'fsync';
        await handle.sync();
      } finally {
        await handle.close();
      }
      failpoint('backend.put.synced');
      await this.#failpoint('after-temp-synced', temp);
      if (options.ifAbsent === true) {
        step = 'create';
        try {
          await ops.link(temp, path);
        } catch (error) {
          if (errno(error) === 'EEXIST') throw objectExists(type, name, path);
          throw error;
        }
        failpoint('backend.put.linked');
        step = 'remove temp file';
        await ops.unlink(temp);
        failpoint('backend.put.temp-removed');
      } else {
        step = 'rename into place';
        await ops.rename(temp, path);
        failpoint('backend.put.renamed');
      }
      tempExists = false;
      step = 'fsync directory';
      await this.#syncDirectory(dir);
      failpoint('backend.put.dir-synced');
    } catch (error) {
      // A crash test's simulated death: no cleanup, as after a real one.
      if (isSimulatedCrash(error)) throw error;
      if (tempExists) await ops.unlink(temp).catch(() => undefined);
      if (error instanceof SourceError) throw error.error;
      if (isShipError(error)) throw error;
      throw backendIo(`${step} ${type}/${name} at`, path, error);
    }
  }

  async get(type: FileType, name: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(type, name);
    if (range !== undefined) checkRange(range);
    try {
      if (range === undefined) return await this.#ops.readFile(path);
      const handle = await this.#ops.open(path, 'r');
      try {
        const { size } = await handle.stat();
        const length = range.length ?? Math.max(0, size - range.offset);
        if (range.offset + length > size) {
          throw shortObject(type, name, path, size, range.offset, length);
        }
        const buffer = Buffer.allocUnsafe(length);
        for (let done = 0; done < length;) {
          const { bytesRead } = await handle.read(buffer, done, length - done, range.offset + done);
          if (bytesRead === 0) throw shortObject(type, name, path, size, range.offset, length);
          done += bytesRead;
        }
        return buffer;
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isShipError(error)) throw error;
      if (errno(error) === 'ENOENT') throw objectNotFound(type, name, path);
      throw backendIo(`read ${type}/${name} at`, path, error);
    }
  }

  async stat(type: FileType, name: string): Promise<{ size: number } | undefined> {
    const path = this.pathOf(type, name);
    try {
      const info = await this.#ops.stat(path);
      if (!info.isFile()) throw new Error('not a regular file');
      return { size: info.size };
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      throw backendIo(`stat ${type}/${name} at`, path, error);
    }
  }

  async *list(type: FileType): AsyncGenerator<ObjectInfo, void, undefined> {
    if (type === FileType.config) {
      const info = await this.stat(type, 'config');
      if (info) yield { name: 'config', size: info.size };
      return;
    }
    checkFileType(type);
    const top = join(this.#root, type);
    const folders = type === FileType.data ? await this.#subfolders(top) : [top];
    for (const folder of folders) {
      for (const entry of await this.#entries(folder)) {
        if (!entry.isFile() || !this.#isObjectName(type, entry.name, folder)) continue;
        const path = join(folder, entry.name);
        try {
          yield { name: entry.name, size: (await this.#ops.lstat(path)).size };
        } catch (error) {
          // Removed between readdir and lstat: it is no longer there to list.
          if (errno(error) !== 'ENOENT') throw backendIo('stat', path, error);
        }
      }
    }
  }

  async remove(type: FileType, name: string): Promise<void> {
    const path = this.pathOf(type, name);
    try {
      await this.#ops.unlink(path);
      failpoint('backend.remove.unlinked');
      await this.#syncDirectory(dirname(path));
      failpoint('backend.remove.dir-synced');
    } catch (error) {
      if (isSimulatedCrash(error)) throw error;
      if (errno(error) === 'ENOENT') return;
      throw backendIo(`remove ${type}/${name} at`, path, error);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Removes temp files left by interrupted puts (a crash, a kill) in every folder of the layout.
   * Returns the paths removed.
   */
  async cleanup(options: CleanupOptions = {}): Promise<string[]> {
    const minAgeMs = options.minAgeMs ?? 3_600_000;
    const cutoff = Date.now() - minAgeMs;
    const folders = [this.#root];
    for (const type of Object.values(FileType)) {
      if (type === FileType.config) continue;
      const top = join(this.#root, type);
      folders.push(top);
      if (type === FileType.data) folders.push(...(await this.#subfolders(top)));
    }
    const removed: string[] = [];
    for (const folder of folders) {
      for (const entry of await this.#entries(folder)) {
        if (!entry.isFile() || !entry.name.startsWith(FS_TEMP_PREFIX)) continue;
        const path = join(folder, entry.name);
        try {
          if (minAgeMs > 0 && (await this.#ops.lstat(path)).mtimeMs > cutoff) continue;
          await this.#ops.unlink(path);
          removed.push(path);
        } catch (error) {
          if (errno(error) !== 'ENOENT') throw backendIo('remove temp file', path, error);
        }
      }
    }
    return removed;
  }

  async #createTemp(temp: string): Promise<FsFileHandle> {
    try {
      return await this.#ops.open(temp, 'wx', FILE_MODE);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
    }
    await this.#makeDirectories(dirname(temp));
    return this.#ops.open(temp, 'wx', FILE_MODE);
  }

  /** Creates `dir` and missing parents, then fsyncs each new entry's parent so it survives a crash. */
  async #makeDirectories(dir: string): Promise<void> {
    const first = await this.#ops.mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (first === undefined) return;
    failpoint('backend.mkdir.created');
    for (let current = dir; ; current = dirname(current)) {
      await this.#syncDirectory(dirname(current));
      if (current === first || dirname(current) === current) break;
    }
    failpoint('backend.mkdir.synced');
  }

  async #syncDirectory(dir: string): Promise<void> {
    const handle = await this.#ops.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async #writeStream(handle: FsFileHandle, data: AsyncIterable<Uint8Array>): Promise<void> {
    const iterator = data[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw new SourceError(error);
      }
      if (next.done === true) return;
      await writeAll(handle, next.value);
    }
  }

  async #subfolders(top: string): Promise<string[]> {
    return (await this.#entries(top))
      .filter((entry) => entry.isDirectory() && DATA_FANOUT.test(entry.name))
      .map((entry) => join(top, entry.name))
      .sort();
  }

  async #entries(folder: string): Promise<Dirent[]> {
    try {
      return await this.#ops.readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (errno(error) === 'ENOENT') return [];
      throw backendIo('list', folder, error);
    }
  }

  #isObjectName(type: FileType, name: string, folder: string): boolean {
    try {
      checkObjectName(type, name);
    } catch {
      return false;
    }
    // A pack in the wrong fan-out folder could not be read by name: do not list it.
    return type !== FileType.data || name.startsWith(folder.slice(-2));
  }
}

/**
 * Opens the local-directory backend rooted at `root` (no I/O: folders appear on first write).
 *
 * @example
 * const backend = openFsBackend('/srv/backups/orders');
 * await backend.put('snapshots', id, manifest);
 */
export function openFsBackend(root: string, options: FsBackendOptions = {}): FsBackend {
  return new FsBackend(root, options);
}
