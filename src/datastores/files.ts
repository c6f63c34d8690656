import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, readdir, readlink, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { ShipError, isShipError } from '../core/index.js';

import type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  Driver,
  Sandbox,
  SandboxOptions,
  SnapshotReader,
  Target,
} from './driver.js';
import { DatastoreErrorCode, targetNotEmpty, wrongSnapshot } from './errors.js';
import {
  fingerprintForManifest,
  makeFingerprint,
  type Fingerprint,
  type FingerprintEntry,
} from './fingerprint.js';
import { fileIdentity, fsError, pathFromConnection, statPath } from './local-files.js';
import { localCopySandbox } from './sandbox-support.js';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fingerprint of a directory tree: one entry per file (`path` → size, mode, and with `full`
 * its SHA-256), directory (`path/` → mode) and symlink (`path` → its target's SHA-256).
 * Modification times are left out: a restore sets them, but copies made otherwise may not.
 */
export async function directoryFingerprint(
  root: string,
  mode: 'counts' | 'full',
): Promise<Fingerprint> {
  const entries: Record<string, FingerprintEntry> = {};
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const path = join(dir, name);
      const relative = prefix === '' ? name : `${prefix}/${name}`;
      const info = await lstat(path);
      const perm = (info.mode & 0o7777).toString(8);
      if (info.isDirectory()) {
        entries[`${relative}/`] = { mode: perm };
        await walk(path, relative);
      } else if (info.isSymbolicLink()) {
        entries[relative] = {
          digest: createHash('sha256')
            .update(await readlink(path))
            .digest('hex'),
          mode: 'link',
        };
      } else if (info.isFile()) {
        entries[relative] = {
          bytes: info.size,
          mode: perm,
          ...(mode === 'full' ? { digest: await sha256File(path) } : {}),
        };
      }
    }
  };
  try {
    await walk(root, '');
  } catch (error) {
    throw fsError(error, root, 'fingerprinting');
  }
  return makeFingerprint(mode, entries);
}

async function requireDirectory(path: string, doing: string): Promise<void> {
  const info = await statPath(path, doing);
  if (!info.isDirectory()) {
    throw ShipError.usage(DatastoreErrorCode.badConnection, `${path} is not a directory`, {
      hint: 'a `files` data store’s connection is the directory to back up',
    });
  }
}

async function backup(
  target: Target,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupOutcome> {
  const path = pathFromConnection(target.connection);
  await requireDirectory(path, 'backing it up');
  const identity = await fileIdentity(path, 'directory');
  const mode = options.fingerprint ?? 'counts';
  const at = new Date().toISOString();
  const consistentPoint = { kind: 'time', value: at, sourceTime: at };
  await options.onConsistentPoint?.(consistentPoint);
  const fingerprint = mode === 'off' ? undefined : await directoryFingerprint(path, mode);
  const toolVersions: Record<string, string> = {};
  const snapshot = await sink.tree([path], {
    consistentPoint,
    toolVersions,
    ...(fingerprint === undefined ? {} : { fingerprints: fingerprintForManifest(fingerprint) }),
  });
  return { snapshot, consistentPoint, identity, fingerprint, toolVersions };
}

/**
 * Restores the directory: into a staging directory next to `path`, then swapped in by rename,
 * so the target is never half-restored. Without `force` the target must be missing or empty;
 * with it, the old contents are replaced entirely.
 */
async function restoreDirectory(from: SnapshotReader, path: string, force: boolean): Promise<void> {
  const { id, manifest } = from.snapshot;
  if (manifest.source.kind !== undefined && manifest.source.kind !== 'files') {
    throw wrongSnapshot(id, `is a backup of a ${manifest.source.kind} data store, not files`);
  }
  if (manifest.content.type !== 'tree')
    throw wrongSnapshot(id, 'holds a byte stream, not a directory tree');
  const existing = await statPath(path, 'checking the restore target').catch((error: unknown) => {
    if (isShipError(error) && error.code === DatastoreErrorCode.notFound) return undefined;
    throw error;
  });
  if (existing !== undefined) {
    if (!existing.isDirectory()) throw targetNotEmpty(path, 'it is a file, not a directory');
    const names = await readdir(path);
    if (names.length > 0 && !force) throw targetNotEmpty(path, `${names.length} entries`);
  }
  const parent = dirname(path);
  await statPath(parent, 'checking the restore target’s directory');
  const staging = await mkdtemp(join(parent, `.${basename(path)}.shipshape-restore-`)).catch(
    (error: unknown) => {
      throw fsError(error, parent, 'staging the restore in');
    },
  );
  try {
    await from.tree(join(staging, 'new'), { force: false });
    const [restored] = await readdir(join(staging, 'new'));
    if (restored === undefined) throw wrongSnapshot(id, 'holds no directory');
    if (existing !== undefined) await rename(path, join(staging, 'old'));
    await rename(join(staging, 'new', restored), path);
  } catch (error) {
    if (isShipError(error)) throw error;
    throw fsError(error, path, 'restoring into');
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function sandbox(from: SnapshotReader, options: SandboxOptions = {}): Promise<Sandbox> {
  return localCopySandbox(from, options, 'files', 'restored', restoreDirectory);
}

/** Files: a directory tree with metadata; fingerprint = manifest of sizes, modes and hashes. */
export const filesDriver: Driver = {
  kind: 'files',
  tools: () => [],
  identity: (target) => fileIdentity(pathFromConnection(target.connection), 'directory'),
  backup,
  restore: (from, target, options = {}) =>
    restoreDirectory(from, pathFromConnection(target.connection), options.force ?? false),
  fingerprint: async (target, mode) => {
    const path = pathFromConnection(target.connection);
    await requireDirectory(path, 'fingerprinting it');
    return directoryFingerprint(path, mode);
  },
  sandbox,
};
