import type { Dirent, Stats } from 'node:fs';
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';

/** The part of an open file the local backend uses (a subset of `node:fs/promises` FileHandle). */
export interface FsFileHandle {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
  ): Promise<{ readonly bytesWritten: number }>;
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ readonly bytesRead: number }>;
  /** `fsync(2)`: a file's content, or a folder's entries, survive a power loss from here on. */
  sync(): Promise<void>;
  stat(): Promise<Stats>;
  close(): Promise<void>;
}

/**
 * Every file-system call the local backend makes, so a test can interpose (the power-loss
 * simulation in the crash tests journals writes and drops those never made durable). Same
 * signatures and errors (`ENOENT`, `EEXIST`…) as `node:fs/promises`.
 */
export interface FsOps {
  open(path: string, flags: 'r' | 'wx', mode?: number): Promise<FsFileHandle>;
  readFile(path: string): Promise<Buffer>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
  stat(path: string): Promise<Stats>;
  lstat(path: string): Promise<Stats>;
  /** Returns the first folder created, undefined when `path` existed (recursive semantics). */
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<string | undefined>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

/** The real file system (`node:fs/promises`), the default of every local backend. */
export const NODE_FS_OPS: FsOps = Object.freeze({
  open,
  readFile: (path: string) => readFile(path),
  readdir,
  stat: (path: string) => stat(path),
  lstat: (path: string) => lstat(path),
  mkdir,
  rename,
  link,
  unlink,
});
