import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { SimulatedCrash } from '../../src/core/index.js';
import { NODE_FS_OPS, type FsFileHandle, type FsOps } from '../../src/repo/backend/index.js';

/**
 * A power-loss simulation for the local backend, on a real directory.
 *
 * Model (the guarantees POSIX gives and ext4/XFS in their default modes provide; nothing more
 * is assumed):
 *
 * - A file's content (and size) is durable as of its last `fsync` on a handle to it; a file
 *   never fsynced comes back empty (ext4 delayed allocation can leave exactly that).
 * - A folder's entries (names → inodes, including sub-folders) are durable as of the last
 *   `fsync` of that folder. Creating, renaming, linking and unlinking names, and `mkdir`, are
 *   volatile until then. A folder whose own entry is not durable vanishes with its content.
 * - Nothing becomes durable except through `fsync` ({@link powerLoss} keeps exactly the fsynced
 *   state: the worst case). The opposite extreme (the process dies, the kernel writes
 *   everything) is the plain crash without {@link powerLoss}. States in between (some
 *   un-fsynced changes persisted, others not) are not enumerated.
 * - fsynced data is never reordered or torn: an fsync that returned is whole.
 *
 * Every write goes through {@link ops} (pass it as `openFsBackend(root, { ops })`); reads pass
 * straight through. Once the process is "dead" (the `dead` predicate, typically "the armed
 * failpoint fired"), every call that would change the disk throws {@link SimulatedCrash}, so
 * `finally` blocks and error handlers of the crashed operation change nothing, as after a real
 * crash.
 */
export class PowerLossFs {
  readonly root: string;
  readonly ops: FsOps;
  #dead: () => boolean = () => false;
  /** Durable content of every file the model knows, by model file id (undefined: never synced). */
  #content = new Map<number, Buffer | undefined>();
  /** Model file id of each real inode (`dev:ino`). */
  #inodes = new Map<string, number>();
  /** Durable entries of every folder, by absolute path. */
  #folders = new Map<string, Map<string, Entry>>();
  #nextFile = 1;
  /** Changes made since the last power loss (journal for the report). */
  #changes = 0;

  readonly #lyingFileSync: boolean;

  private constructor(root: string, options: PowerLossOptions) {
    this.root = resolve(root);
    this.ops = this.#makeOps();
    this.#lyingFileSync = options.lyingFileSync ?? false;
  }

  /** Starts the model on `root` (created when missing); everything already there is durable. */
  static async start(root: string, options: PowerLossOptions = {}): Promise<PowerLossFs> {
    const model = new PowerLossFs(root, options);
    await fs.mkdir(model.root, { recursive: true });
    await model.#adoptAll();
    return model;
  }

  /** From now on, while `dead()` is true, every disk-changing call throws SimulatedCrash. */
  setDead(dead: () => boolean): void {
    this.#dead = dead;
  }

  /** Disk-changing calls since the model started or last lost power. */
  get changes(): number {
    return this.#changes;
  }

  /**
   * Pulls the plug: rewrites the directory to its durable state (see the class comment), then
   * revives the process (the dead predicate is cleared) with everything now durable. Returns the
   * paths (relative to the root) whose state changed.
   */
  async powerLoss(): Promise<{ lost: string[] }> {
    const before = await snapshotTree(this.root);
    const wanted = new Map<string, Buffer | 'dir'>();
    this.#collect(this.root, '', wanted);
    for (const entry of await fs.readdir(this.root)) {
      await fs.rm(join(this.root, entry), { recursive: true, force: true });
    }
    const linked = new Map<number, string>();
    await this.#materialize(this.root, linked);
    this.#dead = () => false;
    this.#content.clear();
    this.#inodes.clear();
    this.#folders.clear();
    this.#changes = 0;
    await this.#adoptAll();
    const lost = new Set<string>();
    for (const [path, state] of before) {
      const now = wanted.get(path);
      if (now === undefined || !sameState(now, state)) lost.add(path);
    }
    for (const path of wanted.keys()) if (!before.has(path)) lost.add(path);
    return { lost: [...lost].sort() };
  }

  #collect(folder: string, rel: string, out: Map<string, Buffer | 'dir'>): void {
    for (const [name, entry] of this.#folders.get(folder) ?? new Map<string, Entry>()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (entry.kind === 'dir') {
        out.set(path, 'dir');
        this.#collect(join(folder, name), path, out);
      } else {
        out.set(path, this.#content.get(entry.file) ?? Buffer.alloc(0));
      }
    }
  }

  async #materialize(folder: string, linked: Map<number, string>): Promise<void> {
    for (const [name, entry] of this.#folders.get(folder) ?? new Map<string, Entry>()) {
      const path = join(folder, name);
      if (entry.kind === 'dir') {
        await fs.mkdir(path, { mode: 0o700 });
        await this.#materialize(path, linked);
        continue;
      }
      const first = linked.get(entry.file);
      if (first !== undefined) {
        await fs.link(first, path);
      } else {
        await fs.writeFile(path, this.#content.get(entry.file) ?? Buffer.alloc(0), {
          mode: 0o600,
        });
        linked.set(entry.file, path);
      }
    }
  }

  /** Records everything under the root as durable (start, and after a power loss). */
  async #adoptAll(): Promise<void> {
    const walk = async (folder: string): Promise<void> => {
      const entries = new Map<string, Entry>();
      for (const dirent of await fs.readdir(folder, { withFileTypes: true })) {
        const path = join(folder, dirent.name);
        if (dirent.isDirectory()) {
          entries.set(dirent.name, { kind: 'dir' });
          await walk(path);
        } else if (dirent.isFile()) {
          const file = await this.#fileOf(path);
          this.#content.set(file, await fs.readFile(path));
          entries.set(dirent.name, { kind: 'file', file });
        }
      }
      this.#folders.set(folder, entries);
    };
    await walk(this.root);
  }

  async #fileOf(path: string): Promise<number> {
    const info = await fs.lstat(path);
    const inode = `${info.dev}:${info.ino}`;
    let file = this.#inodes.get(inode);
    if (file === undefined) {
      file = this.#nextFile++;
      this.#inodes.set(inode, file);
      this.#content.set(file, undefined);
    }
    return file;
  }

  #alive(what: string): void {
    if (this.#dead()) throw new SimulatedCrash(`process.dead.${what}`, 0);
    this.#changes++;
  }

  /** fsync of a folder: its current entries become its durable entries. */
  async #syncFolder(folder: string): Promise<void> {
    const entries = new Map<string, Entry>();
    for (const dirent of await fs.readdir(folder, { withFileTypes: true })) {
      if (dirent.isDirectory()) entries.set(dirent.name, { kind: 'dir' });
      else if (dirent.isFile()) {
        entries.set(dirent.name, {
          kind: 'file',
          file: await this.#fileOf(join(folder, dirent.name)),
        });
      }
    }
    this.#folders.set(folder, entries);
  }

  #makeOps(): FsOps {
    const real = NODE_FS_OPS;
    const wrap = (handle: FsFileHandle, path: string, file: number | undefined): FsFileHandle => ({
      write: async (buffer, offset, length) => {
        this.#alive('write');
        return handle.write(buffer, offset, length);
      },
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      sync: async () => {
        this.#alive('fsync');
        await handle.sync();
        const info = await handle.stat();
        if (info.isDirectory()) {
          await this.#syncFolder(path);
        } else if (file !== undefined && !this.#lyingFileSync) {
          const content = Buffer.alloc(info.size);
          for (let done = 0; done < info.size;) {
            const { bytesRead } = await handle.read(content, done, info.size - done, done);
            if (bytesRead === 0) break;
            done += bytesRead;
          }
          this.#content.set(file, content);
        }
      },
      stat: () => handle.stat(),
      close: () => handle.close(),
    });
    return {
      open: async (path, flags, mode) => {
        const absolute = resolve(path);
        // Read handles: reads, and the fsync of a folder (which needs only its path).
        if (flags === 'r') return wrap(await real.open(absolute, flags, mode), absolute, undefined);
        this.#alive('create');
        // Opened read-write (same create semantics) so an fsync can read back what it made durable.
        const handle = await fs.open(absolute, 'wx+', mode);
        // A new inode: forget whatever an earlier file with a reused inode number held.
        const info = await handle.stat();
        const file = this.#nextFile++;
        this.#inodes.set(`${info.dev}:${info.ino}`, file);
        this.#content.set(file, undefined);
        return wrap(handle, absolute, file);
      },
      readFile: (path) => real.readFile(path),
      readdir: (path, options) => real.readdir(path, options),
      stat: (path) => real.stat(path),
      lstat: (path) => real.lstat(path),
      mkdir: async (path, options) => {
        this.#alive('mkdir');
        return real.mkdir(path, options);
      },
      rename: async (from, to) => {
        this.#alive('rename');
        return real.rename(from, to);
      },
      link: async (existing, newPath) => {
        this.#alive('link');
        return real.link(existing, newPath);
      },
      unlink: async (path) => {
        this.#alive('unlink');
        return real.unlink(path);
      },
    };
  }
}

export interface PowerLossOptions {
  /**
   * A disk that acknowledges a file's fsync without making its content durable (folder fsyncs
   * still work). Only for proving that the crash tests fail on a broken write path.
   * @default false
   */
  readonly lyingFileSync?: boolean;
}

type Entry = { readonly kind: 'dir' } | { readonly kind: 'file'; readonly file: number };

async function snapshotTree(root: string): Promise<Map<string, Buffer | 'dir'>> {
  const out = new Map<string, Buffer | 'dir'>();
  const walk = async (folder: string, rel: string): Promise<void> => {
    let dirents: Dirent[];
    try {
      dirents = await fs.readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const dirent of dirents) {
      const path = rel === '' ? dirent.name : `${rel}/${dirent.name}`;
      if (dirent.isDirectory()) {
        out.set(path, 'dir');
        await walk(join(folder, dirent.name), path);
      } else if (dirent.isFile()) {
        out.set(path, await fs.readFile(join(folder, dirent.name)));
      }
    }
  };
  await walk(root, '');
  return out;
}

function sameState(a: Buffer | 'dir', b: Buffer | 'dir'): boolean {
  if (a === 'dir' || b === 'dir') return a === b;
  return a.equals(b);
}
