import { constants, createWriteStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Stats } from 'node:fs';
import type { Writable } from 'node:stream';

import { ShipError } from '../core/index.js';

import type { ServerIdentity } from './driver.js';
import { DatastoreErrorCode } from './errors.js';

/** `sqlite:///x`, `file:x`, `x` → an absolute path. */
export function pathFromConnection(connection: string): string {
  const trimmed = connection.trim();
  const stripped = trimmed.replace(/^(?:sqlite|file):(?:\/\/(?=\/))?/i, '');
  if (stripped === '') {
    throw ShipError.usage(DatastoreErrorCode.badConnection, 'the connection is an empty path', {
      hint: 'give the path of the file or directory',
    });
  }
  return resolve(stripped);
}

/** Maps a file-system error on `path` to a data-store error code. */
export function fsError(error: unknown, path: string, doing: string): ShipError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return ShipError.runtime(DatastoreErrorCode.notFound, `${path} does not exist (${doing})`, {
      details: { path },
      hint: 'check the path in the data store’s connection',
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return ShipError.runtime(
      DatastoreErrorCode.permissionDenied,
      `permission denied on ${path} (${doing})`,
      {
        details: { path },
        hint: 'run as a user that can read the data (and write the restore target)',
      },
    );
  }
  return ShipError.runtime(
    DatastoreErrorCode.toolFailed,
    `${doing} ${path} failed: ${String(error)}`,
    {
      details: { path, ...(code === undefined ? {} : { code }) },
      cause: error,
    },
  );
}

/** stat() with data-store error codes. */
export async function statPath(path: string, doing: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (error) {
    throw fsError(error, path, doing);
  }
}

/** Identity of a file or directory: device and inode, which change when it is replaced. */
export async function fileIdentity(path: string, kind: string): Promise<ServerIdentity> {
  const found = await statPath(path, 'reading its identity');
  return { kind, id: `${found.dev}:${found.ino}`, location: path };
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    await handle?.close();
  }
}

/**
 * Writes a file atomically: `write(out)` fills a temporary file next to `path`, which is
 * fsynced and renamed over `path`, then the directory is fsynced. On failure the temporary file
 * is removed and `path` is untouched.
 */
export async function writeFileAtomically(
  path: string,
  write: (out: Writable) => Promise<void>,
  mode = 0o600,
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.shipshape-${process.pid}-${Date.now()}`);
  try {
    const out = createWriteStream(temp, { mode, flags: 'wx' });
    await write(out);
    const handle = await open(temp, constants.O_RDWR);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncDir(dirname(path));
}
