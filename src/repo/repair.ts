/**
 * `repo repair index`: rebuilds the index from the packs' tables of contents, writes it, then
 * deletes the old index files (new first, old after: a crash in between leaves duplicate
 * entries, which loading tolerates). Packs whose table of contents cannot be read are reported
 * and left alone; what the old index said about them is carried over.
 */
import { ExitCode, failpoint, isShipError } from '../core/index.js';
import { FileType, type Backend } from './backend/index.js';
import type { RepoSubkeys } from './crypto/index.js';
import {
  MAX_INDEX_FILE_ENTRIES,
  readIndexFile,
  rebuildIndexFromPacks,
  writeIndexFiles,
  type IndexFilePack,
} from './format/index.js';

/** The result of {@link repairIndex}. */
export interface RepairIndexResult {
  /** Packs indexed from their table of contents. */
  readonly packs: number;
  /** Blob entries in the new index. */
  readonly blobs: number;
  /** Packs whose table of contents cannot be read: named, not deleted. */
  readonly unreadablePacks: readonly { readonly pack: string; readonly message: string }[];
  /** Of those, packs whose entries the old index still had (carried over). */
  readonly carriedOver: readonly string[];
  /** Old index files that could not be read (deleted: the new index replaces them). */
  readonly unreadableIndexFiles: readonly { readonly name: string; readonly message: string }[];
  readonly indexFiles: { readonly written: number; readonly deleted: number };
}

/**
 * Rebuilds the index. The caller holds the exclusive lock and may delete. Failpoints:
 * `repair.index.written` after each new index file, `repair.index.deleted` after each old one
 * is deleted.
 */
export async function repairIndex(ctx: {
  readonly backend: Backend;
  readonly keys: RepoSubkeys;
}): Promise<RepairIndexResult> {
  const { backend, keys } = ctx;
  const oldNames: string[] = [];
  for await (const { name } of backend.list(FileType.index)) oldNames.push(name);
  oldNames.sort();
  const { packs, damaged } = await rebuildIndexFromPacks(backend, keys);
  const unreadablePacks = damaged.map((d) => ({ pack: d.pack, message: d.error.message }));

  // What the old index knew about packs whose TOC is unreadable: their blobs may still read.
  const damagedNames = new Set(damaged.map((d) => d.pack));
  const carried = new Map<string, Map<number, IndexFilePack['entries'][number]>>();
  const unreadableIndexFiles: { name: string; message: string }[] = [];
  for (const name of oldNames) {
    try {
      for (const pack of await readIndexFile(backend, keys.encryption, name)) {
        if (!damagedNames.has(pack.pack)) continue;
        let entries = carried.get(pack.pack);
        if (entries === undefined)
          carried.set(pack.pack, (entries = new Map<number, IndexFilePack['entries'][number]>()));
        for (const entry of pack.entries) entries.set(entry.offset, entry);
      }
    } catch (error) {
      if (!isShipError(error) || error.exitCode !== ExitCode.repoCorrupt) throw error;
      unreadableIndexFiles.push({ name, message: error.message });
    }
  }
  const all: IndexFilePack[] = [
    ...packs,
    ...[...carried].map(([pack, entries]) => ({
      pack,
      entries: [...entries.values()].sort((a, b) => a.offset - b.offset),
    })),
  ];
  const names = await writeIndexBatches(backend, keys.encryption, all, 'repair.index.written');
  let deleted = 0;
  for (const name of oldNames) {
    if (names.has(name)) continue;
    await backend.remove(FileType.index, name);
    deleted++;
    failpoint('repair.index.deleted');
  }
  return {
    packs: packs.length,
    blobs: all.reduce((sum, pack) => sum + pack.entries.length, 0),
    unreadablePacks,
    carriedOver: [...carried.keys()].sort(),
    unreadableIndexFiles,
    indexFiles: { written: names.size, deleted },
  };
}

/**
 * Writes index files for `packs`, about {@link MAX_INDEX_FILE_ENTRIES} entries per call so
 * `point` fires after each file; returns the names written.
 */
export async function writeIndexBatches(
  backend: Backend,
  key: Uint8Array,
  packs: readonly IndexFilePack[],
  point: string,
): Promise<Set<string>> {
  const names = new Set<string>();
  let batch: IndexFilePack[] = [];
  let entries = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await writeIndexFiles(backend, key, batch);
    for (const name of result.names) {
      names.add(name);
      failpoint(point);
    }
    batch = [];
    entries = 0;
  };
  for (const pack of [...packs].sort((a, b) => a.pack.localeCompare(b.pack))) {
    if (entries > 0 && entries + pack.entries.length > MAX_INDEX_FILE_ENTRIES) await flush();
    batch.push(pack);
    entries += pack.entries.length;
  }
  await flush();
  return names;
}
