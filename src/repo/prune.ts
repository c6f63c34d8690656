/**
 * Two-phase prune: removes the packs no snapshot needs, without ever deleting on partial
 * knowledge and without racing a backup that dedups against a pack as it goes.
 *
 * Every run, under the repository's exclusive lock:
 *
 * 1. Reads every snapshot and walks it completely (content lists, trees, their chunks) into
 *    the set of used blobs. Any snapshot that cannot be walked whole stops the run before
 *    anything is written (`SHIP_REPO_CORRUPT`, exit 11, naming the snapshot).
 * 2. Phase 2 of earlier runs (delete): packs marked at least `graceMs` ago and still unused are
 *    deleted; a marked pack that a snapshot uses again is un-marked and indexed again from its
 *    table of contents.
 * 3. Phase 1 of this run (mark): packs with no used blob, and packs no index lists (left by an
 *    interrupted backup) are marked; packs whose unused share exceeds `maxUnusedPercent` are
 *    repacked (their used blobs copied, still sealed, into new packs) and then marked.
 *
 * Durable steps, in this order (each followed by a failpoint): new packs written
 * (`prune.pack.written`), a consolidated set of index files covering exactly the live packs
 * written (`prune.index.written`), the old index files deleted (`prune.index.deleted`), marked
 * packs deleted (`prune.pack.deleted`), the new mark object written (`prune.marks.written`), the
 * old mark objects deleted (`prune.marks.deleted`). A crash anywhere leaves at worst duplicate
 * index entries (harmless: the first location wins) or packs that are in no index and no mark
 * (the next run marks them again). See docs/adr/0006-prune.md.
 */
import { z } from 'zod';

import { ExitCode, failpoint, isShipError, type ShipError } from '../core/index.js';
import { FileType, type Backend } from './backend/index.js';
import type { CompressPool } from './compress/index.js';
import { openBlob, repoCorrupt, sealBlob, type RepoSubkeys } from './crypto/index.js';
import {
  MasterIndex,
  PackWriter,
  isHexId,
  readIndexFile,
  readPackToc,
  readSnapshot,
  sha256Hex,
  writePack,
  type IndexFilePack,
  type PackEntry,
  type PackWriterOptions,
  type SnapshotManifest,
} from './format/index.js';
import { BlobSource } from './tree/index.js';
import { isRetainedError } from './append-only.js';
import { writeIndexBatches } from './repair.js';

/** Default grace period between marking a pack and deleting it: one hour. */
export const DEFAULT_PRUNE_GRACE_MS = 60 * 60 * 1000;
/** Default share of a pack's blob bytes that may be unused before it is repacked: 10 %. */
export const DEFAULT_MAX_UNUSED_PERCENT = 10;
/** Value of a mark object's `format` field. */
export const MARKS_FORMAT = 'shipshape-marks/v1';

/** Why a pack was marked for deletion. */
export const MarkReason = {
  /** No snapshot uses any blob in it. */
  unused: 'unused',
  /** Its used blobs were copied into new packs. */
  repacked: 'repacked',
  /** No index lists it (an interrupted backup left it) and no snapshot uses it. */
  unindexed: 'unindexed',
} as const;
export type MarkReason = (typeof MarkReason)[keyof typeof MarkReason];

const hexId = z.string().regex(/^[0-9a-f]{64}$/);

const marksSchema = z.strictObject({
  format: z.literal(MARKS_FORMAT),
  /** The config id of the repository the marks belong to. */
  repository: hexId,
  written: z.iso.datetime(),
  packs: z.array(
    z.strictObject({
      pack: hexId,
      marked: z.iso.datetime(),
      reason: z.enum([MarkReason.unused, MarkReason.repacked, MarkReason.unindexed]),
      bytes: z.number().int().nonnegative(),
    }),
  ),
});

/** The sealed content of a mark object under `marks/`. Times are ISO 8601 UTC. */
export type MarksRecord = z.infer<typeof marksSchema>;
/** One marked pack. */
export type PackMark = MarksRecord['packs'][number];

/** What prune needs of an open repository. */
export interface PruneContext {
  readonly backend: Backend;
  readonly keys: RepoSubkeys;
  /** The repository's config id, recorded in (and checked against) mark objects. */
  readonly repositoryId: string;
  /** Decompresses tree blobs while walking snapshots. */
  readonly pool: CompressPool;
  readonly packOptions: PackWriterOptions;
}

/** Options for {@link prune}. */
export interface PruneOptions {
  /** Plan only: read everything, write and delete nothing. @default false */
  dryRun?: boolean;
  /**
   * How long a pack stays marked before a later run may delete it; 0 lets any later run delete
   * it. @default DEFAULT_PRUNE_GRACE_MS (1 h)
   */
  graceMs?: number;
  /**
   * Repack a pack when more than this percentage of its blob bytes is unused (0–100; 100 never
   * repacks). @default DEFAULT_MAX_UNUSED_PERCENT (10)
   */
  maxUnusedPercent?: number;
  /** Clock. @default () => new Date() */
  now?: () => Date;
}

/** A pack and its size. */
export interface PrunePack {
  readonly pack: string;
  readonly bytes: number;
}

/** A pack still marked after the run, and when it becomes deletable. */
export interface MarkedPack extends PrunePack {
  readonly reason: MarkReason;
  readonly markedAt: string;
  readonly deletableAt: string;
}

/** The result of {@link prune}: what was (or, with `dryRun`, would be) done. */
export interface PruneResult {
  readonly dryRun: boolean;
  readonly snapshots: number;
  /** Blobs some snapshot uses. */
  readonly usedBlobs: number;
  /** Packs in `data/` when the run started. */
  readonly packs: number;
  /** Packs deleted (phase 2): marked by an earlier run, grace passed, still unused. */
  readonly deleted: readonly PrunePack[];
  /** Packs this run marked (phase 1). */
  readonly marked: readonly (PrunePack & { readonly reason: MarkReason })[];
  /** Packs whose used blobs were copied into new packs (they are in `marked` too). */
  readonly repacked: readonly (PrunePack & {
    readonly usedBytes: number;
    readonly unusedBytes: number;
  })[];
  /** New packs written by repacking. */
  readonly written: readonly PrunePack[];
  /** Marked packs a snapshot uses again: un-marked and indexed again. */
  readonly unmarked: readonly PrunePack[];
  /** Every pack marked after this run (including the ones marked now). */
  readonly stillMarked: readonly MarkedPack[];
  /** Packs the storage refused to delete because of retention; they stay marked. */
  readonly retained: readonly (PrunePack & { readonly message: string })[];
  /** Packs whose table of contents cannot be read: what they hold is unknown, so they stay. */
  readonly unreadablePacks: readonly { readonly pack: string; readonly message: string }[];
  /** Mark objects that could not be read (ignored; their packs are marked again later). */
  readonly unreadableMarks: readonly { readonly name: string; readonly message: string }[];
  /** Bytes of deleted packs. */
  readonly bytesFreed: number;
  /** Bytes of packs still marked after this run. */
  readonly bytesMarked: number;
  /** Bytes of new packs written by repacking. */
  readonly bytesWritten: number;
  readonly indexFiles: { readonly written: number; readonly deleted: number };
}

/** What one pack is known to hold, and from where. */
interface PackFacts {
  readonly pack: string;
  readonly bytes: number;
  /** The entries of the pack (from the index, or its TOC when no index lists it). */
  readonly entries: PackEntry[];
  readonly indexed: boolean;
}

const blobKey = (type: string, id: string) => `${type === 'data' ? 'd' : 't'}${id}`;

/**
 * Prunes the repository (see the module comment). The caller holds the exclusive lock and has
 * checked that the handle may delete.
 *
 * @example
 * const result = await prune(ctx, { graceMs: 0 });
 */
export async function prune(ctx: PruneContext, options: PruneOptions = {}): Promise<PruneResult> {
  const { backend, keys } = ctx;
  const key = keys.encryption;
  const now = (options.now ?? (() => new Date()))();
  const graceMs = options.graceMs ?? DEFAULT_PRUNE_GRACE_MS;
  const maxUnused = options.maxUnusedPercent ?? DEFAULT_MAX_UNUSED_PERCENT;
  if (!(graceMs >= 0)) throw new RangeError(`graceMs must be ≥ 0, got ${graceMs}`);
  if (!(maxUnused >= 0 && maxUnused <= 100)) {
    throw new RangeError(`maxUnusedPercent must be in [0, 100], got ${maxUnused}`);
  }
  const dryRun = options.dryRun ?? false;

  // --- Read everything first: nothing is written until the plan is complete. ---
  const sizes = new Map<string, number>();
  for await (const { name, size } of backend.list(FileType.data)) sizes.set(name, size);
  const indexNames = await listNames(backend, FileType.index);
  const indexed = new Map<string, Map<number, PackEntry>>();
  for (const name of indexNames) {
    let packs: IndexFilePack[];
    try {
      packs = await readIndexFile(backend, key, name);
    } catch (error) {
      throw refuse(error, `index file ${name}`, 'it cannot be read', {
        hint: 'run `shipshape repo repair index` to rebuild the index from the packs, then prune again',
      });
    }
    for (const pack of packs) {
      let entries = indexed.get(pack.pack);
      if (entries === undefined) indexed.set(pack.pack, (entries = new Map<number, PackEntry>()));
      for (const entry of pack.entries) entries.set(entry.offset, entry);
    }
  }
  const { marks, markNames, unreadableMarks } = await readMarks(ctx);

  const facts = new Map<string, PackFacts>();
  const unreadablePacks: { pack: string; message: string }[] = [];
  for (const [pack, bytes] of sizes) {
    const fromIndex = indexed.get(pack);
    if (fromIndex !== undefined) {
      const entries = [...fromIndex.values()].sort((a, b) => a.offset - b.offset);
      facts.set(pack, { pack, bytes, entries, indexed: true });
      continue;
    }
    try {
      const entries = await readPackToc({ backend, name: pack }, key);
      facts.set(pack, { pack, bytes, entries, indexed: false });
    } catch (error) {
      if (!isShipError(error) || error.exitCode !== ExitCode.repoCorrupt) throw error;
      unreadablePacks.push({ pack, message: error.message });
    }
  }

  // Where each blob is: packs that stay first (indexed, unmarked), so a used blob that also
  // sits in a marked or orphaned pack resolves to the copy that is kept.
  const locations = new MasterIndex();
  const ordered = [...facts.values()].sort(
    (a, b) => rank(a) - rank(b) || a.pack.localeCompare(b.pack),
  );
  function rank(f: PackFacts): number {
    return (f.indexed ? 0 : 2) + (marks.has(f.pack) ? 1 : 0);
  }
  for (const f of ordered) for (const entry of f.entries) locations.add(f.pack, entry);

  // --- The used set: every blob every snapshot reaches. ---
  const snapshotNames = (await listNames(backend, FileType.snapshots)).filter(isHexId);
  const used = await usedBlobs(ctx, locations, snapshotNames);

  // --- Plan. ---
  const usedBytesOf = new Map<string, { used: number; total: number }>();
  for (const f of facts.values()) {
    let usedBytes = 0;
    let total = 0;
    for (const entry of f.entries) {
      total += entry.length;
      if (!used.has(blobKey(entry.type, entry.id))) continue;
      if (locations.get(entry.id, entry.type)?.pack === f.pack) usedBytes += entry.length;
    }
    usedBytesOf.set(f.pack, { used: usedBytes, total });
  }
  const deletable = (mark: PackMark) => Date.parse(mark.marked) + graceMs <= now.getTime();

  const deleted: PrunePack[] = [];
  const marked: (PrunePack & { reason: MarkReason })[] = [];
  const repacked: (PrunePack & { usedBytes: number; unusedBytes: number })[] = [];
  const unmarked: PrunePack[] = [];
  const nextMarks = new Map<string, PackMark>();
  /** Packs the new index must list. */
  const live: PackFacts[] = [];
  let indexChanged = false;

  for (const f of [...facts.values()].sort((a, b) => a.pack.localeCompare(b.pack))) {
    const usage = usedBytesOf.get(f.pack) ?? { used: 0, total: 0 };
    const mark = marks.get(f.pack);
    const ref = { pack: f.pack, bytes: f.bytes };
    if (usage.used === 0) {
      if (f.indexed) indexChanged = true;
      if (mark !== undefined) {
        if (deletable(mark)) deleted.push(ref);
        else nextMarks.set(f.pack, mark);
        continue;
      }
      const reason = f.indexed ? MarkReason.unused : MarkReason.unindexed;
      marked.push({ ...ref, reason });
      nextMarks.set(f.pack, markOf(f, reason, now));
      continue;
    }
    if (mark !== undefined) unmarked.push(ref);
    if (!f.indexed) indexChanged = true;
    const unusedBytes = usage.total - usage.used;
    if (usage.total > 0 && (unusedBytes * 100) / usage.total > maxUnused) {
      repacked.push({ ...ref, usedBytes: usage.used, unusedBytes });
      marked.push({ ...ref, reason: MarkReason.repacked });
      nextMarks.set(f.pack, markOf(f, MarkReason.repacked, now));
      indexChanged = true;
      continue;
    }
    live.push(f);
  }
  // Index entries for packs that no longer exist are dropped by the rewrite.
  for (const pack of indexed.keys()) if (!sizes.has(pack)) indexChanged = true;
  // Marks of packs that are gone (deleted by an earlier run that crashed before rewriting the
  // marks) are dropped; marks of unreadable packs are kept as they are.
  for (const { pack } of unreadablePacks) {
    const mark = marks.get(pack);
    if (mark !== undefined) nextMarks.set(pack, mark);
  }
  const marksChanged =
    nextMarks.size !== marks.size || [...nextMarks.keys()].some((pack) => !marks.has(pack));

  const retained: (PrunePack & { message: string })[] = [];
  const written: PrunePack[] = [];
  let indexFiles = { written: 0, deleted: 0 };
  if (!dryRun) {
    // 1. Repack: the used blobs of partly used packs into new packs (durable before anything
    //    stops pointing at the old ones).
    for (const pack of await repack(ctx, repacked, facts, used, locations)) {
      written.push({ pack: pack.pack, bytes: pack.bytes });
      live.push({ ...pack, indexed: true });
    }
    // 2. A consolidated index of exactly the live packs, then the old index files go.
    if (indexChanged) indexFiles = await rewriteIndex(ctx, live, indexNames);
    // 3. Phase 2: delete marked packs whose grace has passed and that are still unused.
    for (const pack of deleted.splice(0)) {
      try {
        await backend.remove(FileType.data, pack.pack);
      } catch (error) {
        if (!isRetainedError(error)) throw error;
        retained.push({ ...pack, message: error.message });
        const mark = marks.get(pack.pack);
        if (mark !== undefined) nextMarks.set(pack.pack, mark);
        continue;
      }
      deleted.push(pack);
      failpoint('prune.pack.deleted');
    }
    // 4. The marks: the new object first, then the old ones.
    if (marksChanged || retained.length > 0) await rewriteMarks(ctx, nextMarks, markNames, now);
  }

  const stillMarked: MarkedPack[] = [...nextMarks.values()]
    .map((mark) => ({
      pack: mark.pack,
      bytes: mark.bytes,
      reason: mark.reason,
      markedAt: mark.marked,
      deletableAt: new Date(Date.parse(mark.marked) + graceMs).toISOString(),
    }))
    .sort((a, b) => a.pack.localeCompare(b.pack));
  return {
    dryRun,
    snapshots: snapshotNames.length,
    usedBlobs: used.size,
    packs: sizes.size,
    deleted,
    marked,
    repacked,
    written,
    unmarked,
    stillMarked,
    retained,
    unreadablePacks,
    unreadableMarks,
    bytesFreed: deleted.reduce((sum, pack) => sum + pack.bytes, 0),
    bytesMarked: stillMarked.reduce((sum, pack) => sum + pack.bytes, 0),
    bytesWritten: written.reduce((sum, pack) => sum + pack.bytes, 0),
    indexFiles,
  };
}

function markOf(f: PackFacts, reason: MarkReason, now: Date): PackMark {
  return { pack: f.pack, marked: now.toISOString(), reason, bytes: f.bytes };
}

/**
 * Walks every snapshot completely and returns the keys of every blob they reach. A snapshot
 * that cannot be read, or that references a blob no pack holds, stops the run: deleting on
 * partial knowledge could delete what that snapshot needs.
 */
async function usedBlobs(
  ctx: PruneContext,
  locations: MasterIndex,
  snapshotNames: readonly string[],
): Promise<Set<string>> {
  const used = new Set<string>();
  const source = new BlobSource({
    backend: ctx.backend,
    keys: ctx.keys,
    index: locations,
    pool: ctx.pool,
  });
  const seenTrees = new Set<string>();
  for (const id of snapshotNames) {
    const where = `snapshot ${id}`;
    try {
      const manifest: SnapshotManifest = await readSnapshot(ctx.backend, ctx.keys.encryption, id);
      const chunks = (ids: readonly string[]) => {
        for (const chunk of ids) {
          if (!locations.has(chunk, 'data')) {
            throw repoCorrupt(`${where}, chunk ${chunk}`, 'is in no pack');
          }
          used.add(blobKey('data', chunk));
        }
      };
      const list = async (listId: string) => {
        if (used.has(blobKey('tree', listId))) return;
        chunks(await source.readList(listId, where));
        used.add(blobKey('tree', listId));
      };
      const tree = async (treeId: string): Promise<void> => {
        if (seenTrees.has(treeId)) return;
        const read = await source.readTree(treeId, where);
        for (const entry of read.entries) {
          if (entry.type === 'dir') await tree(entry.subtree);
          else if (entry.type === 'file') {
            if (entry.chunks !== undefined) chunks(entry.chunks);
            for (const listId of entry.lists ?? []) await list(listId);
          }
        }
        seenTrees.add(treeId);
        used.add(blobKey('tree', treeId));
      };
      const content = manifest.content;
      if (content.type === 'stream') for (const listId of content.lists) await list(listId);
      else await tree(content.root);
    } catch (error) {
      throw refuse(error, where, 'it cannot be read completely');
    }
  }
  return used;
}

/** Turns damage found while reading into prune's refusal; rethrows anything else. */
function refuse(
  error: unknown,
  what: string,
  why: string,
  options: { hint?: string } = {},
): ShipError {
  if (!isShipError(error) || error.exitCode !== ExitCode.repoCorrupt) throw error;
  return repoCorrupt(`prune: ${what}`, `${why}, so nothing was deleted (${error.message})`, {
    cause: error,
    hint:
      options.hint ??
      'run `shipshape repo check` to see the damage; `repo forget` the damaged snapshot (or `repo repair index` when packs are only missing from the index), then prune again',
  });
}

/** Copies the used blobs of `packs` (sealed, as they are) into new packs; returns them. */
async function repack(
  ctx: PruneContext,
  packs: readonly PrunePack[],
  facts: ReadonlyMap<string, PackFacts>,
  used: ReadonlySet<string>,
  locations: MasterIndex,
): Promise<PackFacts[]> {
  const out: PackFacts[] = [];
  const writer = new PackWriter(ctx.keys.encryption, ctx.packOptions);
  const flush = async () => {
    if (writer.count === 0) return;
    const pack = writer.finish();
    await writePack(ctx.backend, pack);
    out.push({ pack: pack.id, bytes: pack.size, entries: [...pack.entries], indexed: true });
    failpoint('prune.pack.written');
  };
  for (const { pack } of packs) {
    const f = facts.get(pack);
    if (f === undefined) continue;
    const bytes = await ctx.backend.get(FileType.data, pack);
    for (const entry of f.entries) {
      if (!used.has(blobKey(entry.type, entry.id))) continue;
      if (locations.get(entry.id, entry.type)?.pack !== pack) continue;
      if (writer.has(entry.id, entry.type)) continue;
      const what = `${entry.type} blob ${entry.id} in pack ${pack} (repacking)`;
      if (entry.offset + entry.length > bytes.length) {
        throw repoCorrupt(what, `reaches past the end of the pack (${bytes.length} bytes)`);
      }
      const sealed = Buffer.from(bytes.subarray(entry.offset, entry.offset + entry.length));
      // Authenticate before copying: a damaged blob must not get a fresh, valid-looking home.
      openBlob(ctx.keys.encryption, sealed, entry.type, { what });
      writer.add(entry.id, sealed);
      if (writer.full) await flush();
    }
  }
  await flush();
  return out;
}

/**
 * Writes index files covering exactly `live` (each followed by its failpoint), then deletes the index files that were there before (except any the new set
 * reproduced byte for byte: names are content hashes).
 */
async function rewriteIndex(
  ctx: PruneContext,
  live: readonly PackFacts[],
  oldNames: readonly string[],
): Promise<{ written: number; deleted: number }> {
  const names = await writeIndexBatches(
    ctx.backend,
    ctx.keys.encryption,
    live.map((f) => ({ pack: f.pack, entries: f.entries })),
    'prune.index.written',
  );
  let deleted = 0;
  for (const name of oldNames) {
    if (names.has(name)) continue;
    await ctx.backend.remove(FileType.index, name);
    deleted++;
    failpoint('prune.index.deleted');
  }
  return { written: names.size, deleted };
}

/**
 * Packs that prune has marked for deletion (from every readable mark object), for `check` to
 * tell them apart from packs an interrupted backup left behind.
 */
export async function markedPacks(
  ctx: Pick<PruneContext, 'backend' | 'keys' | 'repositoryId'>,
): Promise<Set<string>> {
  return new Set((await readMarks(ctx)).marks.keys());
}

/** Reads every mark object; unreadable ones are reported and otherwise ignored. */
async function readMarks(ctx: Pick<PruneContext, 'backend' | 'keys' | 'repositoryId'>): Promise<{
  marks: Map<string, PackMark>;
  markNames: string[];
  unreadableMarks: { name: string; message: string }[];
}> {
  const marks = new Map<string, PackMark>();
  const markNames: string[] = [];
  const unreadableMarks: { name: string; message: string }[] = [];
  for (const name of await listNames(ctx.backend, FileType.marks)) {
    const what = `mark object ${name}`;
    try {
      const sealed = await ctx.backend.get(FileType.marks, name);
      if (sha256Hex(sealed) !== name) throw repoCorrupt(what, 'content does not match its name');
      const { plaintext } = openBlob(ctx.keys.encryption, sealed, 'snapshot', { what });
      let value: unknown;
      try {
        value = JSON.parse(plaintext.toString('utf8'));
      } catch (error) {
        throw repoCorrupt(what, 'is not JSON', { cause: error });
      }
      const parsed = marksSchema.safeParse(value);
      if (!parsed.success) throw repoCorrupt(what, 'is not a version 1 mark object');
      if (parsed.data.repository !== ctx.repositoryId) {
        throw repoCorrupt(what, `belongs to repository ${parsed.data.repository}`);
      }
      markNames.push(name);
      for (const mark of parsed.data.packs) {
        // After a crash between writing a new mark object and deleting the old one, a pack
        // can be in both: the earlier mark counts.
        const known = marks.get(mark.pack);
        if (known === undefined || Date.parse(mark.marked) < Date.parse(known.marked)) {
          marks.set(mark.pack, mark);
        }
      }
    } catch (error) {
      if (!isShipError(error) || error.exitCode !== ExitCode.repoCorrupt) throw error;
      unreadableMarks.push({ name, message: error.message });
    }
  }
  return { marks, markNames, unreadableMarks };
}

/** Writes the new mark object (when any pack stays marked), then deletes the old ones. */
async function rewriteMarks(
  ctx: PruneContext,
  marks: ReadonlyMap<string, PackMark>,
  oldNames: readonly string[],
  now: Date,
): Promise<void> {
  let newName: string | undefined;
  if (marks.size > 0) {
    const record: MarksRecord = {
      format: MARKS_FORMAT,
      repository: ctx.repositoryId,
      written: now.toISOString(),
      packs: [...marks.values()].sort((a, b) => a.pack.localeCompare(b.pack)),
    };
    const sealed = sealBlob(
      ctx.keys.encryption,
      { type: 'snapshot', compressed: false },
      Buffer.from(JSON.stringify(record), 'utf8'),
    );
    newName = sha256Hex(sealed);
    if ((await ctx.backend.stat(FileType.marks, newName)) === undefined) {
      await ctx.backend.put(FileType.marks, newName, sealed);
    }
    failpoint('prune.marks.written');
  }
  for (const name of oldNames) {
    if (name === newName) continue;
    await ctx.backend.remove(FileType.marks, name);
    failpoint('prune.marks.deleted');
  }
}

/** Names of every object of a type, sorted. */
async function listNames(backend: Backend, type: FileType): Promise<string[]> {
  const names: string[] = [];
  for await (const { name } of backend.list(type)) names.push(name);
  return names.sort();
}
