import type { Writable } from 'node:stream';

import type { BackupProgress, Repository } from '../repo/index.js';
import type { DatastoreKind } from '../spec/index.js';

import type { BackupSink, SnapshotReader } from './driver.js';

/** Options of {@link repositorySink}. */
export interface RepositorySinkOptions {
  /** Data store name: the manifest's `source.name`, which `backup list` filters on. */
  name: string;
  kind: DatastoreKind;
  tags?: string[];
  onProgress?: (progress: BackupProgress) => void;
}

/**
 * A {@link BackupSink} writing snapshots of one data store into `repo` (`source.type` is
 * `datastore`, with its name and kind).
 */
export function repositorySink(repo: Repository, options: RepositorySinkOptions): BackupSink {
  const source = { type: 'datastore' as const, name: options.name, kind: options.kind };
  const progress = options.onProgress === undefined ? {} : { onProgress: options.onProgress };
  const tags = options.tags ?? [];
  return {
    stream: (data, meta) => repo.backupStream(data, { source, tags, ...meta }, progress),
    tree: (paths, meta) =>
      repo.backupTree(paths, { source: { ...source, paths: [...paths] }, tags, ...meta }, progress),
  };
}

/** A {@link SnapshotReader} over a snapshot of `repo` (`latest` or an id prefix, per data store). */
export async function repositoryReader(
  repo: Repository,
  ref: string,
  filter: { source?: string } = {},
): Promise<SnapshotReader> {
  const snapshot = await repo.resolveSnapshot(ref, filter);
  return {
    snapshot,
    stream: async (out: Writable) => {
      await repo.restoreStream(snapshot.id, out);
    },
    tree: async (dir, options) => {
      await repo.restoreTree(snapshot.id, dir, { force: options.force });
    },
  };
}
