import { randomInt } from 'node:crypto';

import { ExitCode, isShipError, type ShipError } from '../core/index.js';
import { FileType, type Backend } from './backend/index.js';
import {
  BLOB_OVERHEAD_BYTES,
  chunkId,
  keyFileId,
  openBlob,
  parseKeyFileText,
  repoCorrupt,
  serializeKeyFile,
  type RepoSubkeys,
} from './crypto/index.js';
import {
  ENTRY_BYTES,
  MasterIndex,
  PACK_TRAILER_BYTES,
  TOC_HEADER_BYTES,
  decodeContentList,
  isHexId,
  parseConfig,
  readConfig,
  readIndexFile,
  readPackToc,
  readSnapshot,
  serializeConfig,
  sha256Hex,
  type IndexEntry,
  type PackEntry,
  type SnapshotManifest,
} from './format/index.js';
import { decodeTree, type Tree } from './tree/index.js';
import { markedPacks } from './prune.js';

/** What `repo check` can find wrong, one code per kind of damage. */
export const CheckProblemCode = {
  /** `config` is missing or does not parse. */
  configUnreadable: 'config-unreadable',
  /** A key file does not parse, or its content does not match its name. */
  keyUnreadable: 'key-unreadable',
  /** An index file does not authenticate or decode. */
  indexUnreadable: 'index-unreadable',
  /** A pack an index names is not in `data/`. */
  packMissing: 'pack-missing',
  /** A pack is shorter than the blobs the index places in it. */
  packSize: 'pack-size',
  /** A pack's trailer or table of contents is damaged. */
  packUnreadable: 'pack-unreadable',
  /** A pack's bytes do not hash to its name (`--read-data`). */
  packHash: 'pack-hash',
  /** A pack's table of contents and the index disagree. */
  tocMismatch: 'toc-index-mismatch',
  /** A blob does not authenticate, decompress, or match its id (`--read-data`). */
  blobDamaged: 'blob-damaged',
  /** A snapshot manifest does not authenticate or parse. */
  snapshotUnreadable: 'snapshot-unreadable',
  /** A snapshot references a blob that no index lists. */
  blobNotIndexed: 'blob-not-indexed',
  /** A content list a snapshot references cannot be read. */
  contentListDamaged: 'content-list-damaged',
  /** A snapshot's chunks do not add up to the size its manifest records. */
  snapshotSize: 'snapshot-size',
} as const;
export type CheckProblemCode = (typeof CheckProblemCode)[keyof typeof CheckProblemCode];

/** The repository object a problem is about: its path inside the repository. */
export type CheckObject =
  `data/${string}` | `index/${string}` | `snapshots/${string}` | `keys/${string}` | 'config';

/** One problem `repo check` found. */
export interface CheckProblem {
  readonly code: CheckProblemCode;
  readonly object: CheckObject;
  readonly message: string;
}

/** A snapshot that cannot be restored whole (or whose pack is damaged), and why. */
export interface DamagedSnapshot {
  readonly id: string;
  readonly reasons: readonly string[];
}

/** The result of {@link checkRepository}. */
export interface CheckReport {
  /** No problem found. */
  readonly ok: boolean;
  /** `structure`, `read-data` (every pack read) or `read-data-subset`. */
  readonly mode: 'structure' | 'read-data' | 'read-data-subset';
  readonly packs: {
    /** Packs in `data/`. */
    readonly total: number;
    /** Packs read whole and every blob authenticated. */
    readonly read: number;
    /**
     * Packs no index lists. Not damage (an interrupted backup leaves them), but if an index
     * file is damaged, these are the packs it listed.
     */
    readonly unindexed: readonly string[];
    /** Packs in no index that `repo prune` has marked for deletion (not damage either). */
    readonly marked: readonly string[];
  };
  readonly blobs: {
    /** Blobs the index lists. */
    readonly total: number;
    /** Blobs authenticated (and, for data and content lists, their ids recomputed). */
    readonly read: number;
  };
  readonly snapshots: {
    readonly total: number;
    readonly damaged: readonly DamagedSnapshot[];
  };
  readonly problems: readonly CheckProblem[];
}

/** Progress of a check, reported per object. */
export interface CheckProgress {
  readonly phase: 'keys' | 'index' | 'packs' | 'snapshots';
  readonly done: number;
  readonly total: number;
}

/** Options for {@link checkRepository}. */
export interface CheckOptions {
  /** Read every pack whole and authenticate every blob. @default false */
  readData?: boolean;
  /**
   * Read only this percentage (0 < p ≤ 100) of the packs, picked at random once per run.
   * Implies reading data.
   */
  readDataSubset?: number;
  /** Seed of the subset pick, for a reproducible run. @default random */
  seed?: number;
  onProgress?: (progress: CheckProgress) => void;
}

/** What the check needs of an open repository. */
export interface CheckContext {
  readonly backend: Backend;
  readonly keys: RepoSubkeys;
  /** The config's id: mark objects of other repositories are ignored. */
  readonly repositoryId: string;
  /** Decompresses a zstd payload to exactly `length` bytes (`SHIP_REPO_CORRUPT` otherwise). */
  decompress(data: Buffer, length: number, what: string): Promise<Buffer>;
}

/** What is known about one pack from the index files. */
interface PackFacts {
  /** Entries whose index location is this pack (duplicates elsewhere excluded). */
  entries: number;
  /** End of the last blob the index places in it. */
  blobsEnd: number;
}

/** Blobs processed at once while reading a pack (decompression runs on the worker pool). */
const BLOB_CONCURRENCY = 4;

/**
 * Checks a repository and reports every problem it finds, naming the damaged object and the
 * snapshots it affects. Never throws for damage; throws only when it cannot run (an I/O
 * failure of the backend, a bug).
 *
 * Always (structure): the config parses; every key file parses and matches its name; every
 * index file authenticates; every pack it names exists, is long enough, and has a trailer and
 * table of contents that authenticate and agree with the index (two small range reads per
 * pack); every snapshot manifest authenticates; every content list a snapshot references is
 * indexed and authenticates, and every chunk it lists is indexed in a pack that exists.
 *
 * With `readData` (or a `readDataSubset` percentage): every (selected) pack is read whole, its
 * SHA-256 compared with its name, and every blob authenticated, decompressed and its chunk id
 * recomputed.
 */
export async function checkRepository(
  ctx: CheckContext,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const { backend, keys } = ctx;
  const key = keys.encryption;
  const subset = options.readDataSubset;
  if (subset !== undefined && !(subset > 0 && subset <= 100)) {
    throw new RangeError(`readDataSubset must be a percentage in (0, 100], got ${subset}`);
  }
  const readData = options.readData === true || subset !== undefined;
  const progress = options.onProgress ?? (() => undefined);
  const problems = new Map<string, CheckProblem>();
  const report = (code: CheckProblemCode, object: CheckObject, message: string) => {
    problems.set(`${code} ${object} ${message}`, { code, object, message });
  };

  // Config: the handle parsed it at open; check the stored object still does, and is byte for
  // byte what `repo init` wrote (it is not authenticated, so a change that still parses —
  // whitespace, say — shows only here).
  try {
    await readConfig(backend);
    const text = (await backend.get(FileType.config, 'config')).toString('utf8');
    if (serializeConfig(parseConfig(text, backend.location)) !== text) {
      report(
        CheckProblemCode.configUnreadable,
        'config',
        'config: its bytes differ from how shipshape writes it (whitespace or spelling changed); every field still parses',
      );
    }
  } catch (error) {
    report(CheckProblemCode.configUnreadable, 'config', damage(error).message);
  }

  // Keys: each parses, and its content matches its name (the id hashes every field except
  // `wrapped`, which only its own password can verify).
  const keyNames = await names(backend, FileType.keys);
  for (const [i, name] of keyNames.entries()) {
    try {
      const text = (await backend.get(FileType.keys, name)).toString('utf8');
      const file = parseKeyFileText(text, name);
      if (isHexId(name) && keyFileId(file) !== name) {
        report(
          CheckProblemCode.keyUnreadable,
          `keys/${name}`,
          `key file ${name}: content does not match its name (a field was changed)`,
        );
      } else if (serializeKeyFile(file) !== text) {
        report(
          CheckProblemCode.keyUnreadable,
          `keys/${name}`,
          `key file ${name}: its bytes differ from how shipshape writes it (whitespace or spelling changed); every field is intact`,
        );
      }
    } catch (error) {
      report(CheckProblemCode.keyUnreadable, `keys/${name}`, damage(error).message);
    }
    progress({ phase: 'keys', done: i + 1, total: keyNames.length });
  }

  // Index: every file authenticates; collect what each pack should hold.
  const index = new MasterIndex();
  const packFacts = new Map<string, PackFacts>();
  const indexNames = await names(backend, FileType.index);
  for (const [i, name] of indexNames.entries()) {
    try {
      for (const pack of await readIndexFile(backend, key, name)) {
        let facts = packFacts.get(pack.pack);
        if (facts === undefined) {
          facts = { entries: 0, blobsEnd: 0 };
          packFacts.set(pack.pack, facts);
        }
        for (const entry of pack.entries) {
          if (index.add(pack.pack, entry)) facts.entries++;
          facts.blobsEnd = Math.max(facts.blobsEnd, entry.offset + entry.length);
        }
      }
    } catch (error) {
      report(CheckProblemCode.indexUnreadable, `index/${name}`, damage(error).message);
    }
    progress({ phase: 'index', done: i + 1, total: indexNames.length });
  }

  // Packs: existence and size from a listing, then trailer + TOC (or the whole pack).
  const stored = new Map<string, number>();
  for await (const { name, size } of backend.list(FileType.data)) stored.set(name, size);
  /** Packs whose blobs cannot be read at all (missing, truncated). */
  const lostPacks = new Map<string, string>();
  /** Packs whose trailer, TOC or hash is wrong: their blobs may still read. */
  const brokenPacks = new Map<string, string>();
  /** `type:id` of indexed blobs that failed to authenticate at their indexed location. */
  const damagedBlobs = new Map<string, string>();
  for (const [pack, facts] of packFacts) {
    const size = stored.get(pack);
    if (size === undefined) {
      const message = `pack ${pack} is listed in the index but does not exist`;
      report(CheckProblemCode.packMissing, `data/${pack}`, message);
      lostPacks.set(pack, 'missing');
      continue;
    }
    // Blobs, then a sealed TOC of at least the entries indexed here, then the trailer.
    const minimum =
      facts.blobsEnd +
      BLOB_OVERHEAD_BYTES +
      TOC_HEADER_BYTES +
      ENTRY_BYTES * facts.entries +
      PACK_TRAILER_BYTES;
    if (size < minimum) {
      report(
        CheckProblemCode.packSize,
        `data/${pack}`,
        `pack ${pack} is ${size} bytes; the index places blobs up to byte ${facts.blobsEnd}, so it must be at least ${minimum} (truncated)`,
      );
      lostPacks.set(pack, 'truncated');
    }
  }
  const marks = await markedPacks(ctx);
  const notIndexed = [...stored.keys()].filter((pack) => !packFacts.has(pack)).sort();
  const unindexed = notIndexed.filter((pack) => !marks.has(pack));
  const marked = notIndexed.filter((pack) => marks.has(pack));
  const toRead = readData
    ? pickPacks([...stored.keys()].sort(), subset, options.seed)
    : new Set<string>();

  let packsRead = 0;
  let blobsRead = 0;
  const packNames = [...stored.keys()];
  for (const [i, pack] of packNames.entries()) {
    const facts = packFacts.get(pack);
    const object: CheckObject = `data/${pack}`;
    const what = `pack ${pack}`;
    const bytes = toRead.has(pack) ? await readWhole(pack) : undefined;
    if (bytes !== undefined) {
      packsRead++;
      let toc: PackEntry[] | undefined;
      try {
        toc = await readPackToc(bytes, key);
      } catch (error) {
        const message = `${what}: ${damage(error).message}`;
        report(CheckProblemCode.packUnreadable, object, message);
        brokenPacks.set(pack, message);
      }
      if (toc !== undefined && facts !== undefined) compareToc(pack, toc, facts);
      // A damaged TOC does not stop the blobs being checked where the index places them.
      const blobs = toc ?? indexedIn(index, pack);
      let blobProblems = 0;
      await forEachLimited(blobs, BLOB_CONCURRENCY, async (entry) => {
        const problem = await verifyBlob(ctx, bytes, entry, what);
        blobsRead++;
        if (problem === undefined) return;
        blobProblems++;
        report(CheckProblemCode.blobDamaged, object, problem);
        const at = index.get(entry.id, entry.type);
        if (at?.pack === pack && at.offset === entry.offset) {
          damagedBlobs.set(`${entry.type}:${entry.id}`, problem);
        }
      });
      if (sha256Hex(bytes) !== pack && toc !== undefined && blobProblems === 0) {
        const message = `${what}: content does not match its name (SHA-256), though every blob authenticated`;
        report(CheckProblemCode.packHash, object, message);
        brokenPacks.set(pack, message);
      }
    } else if (facts !== undefined && !lostPacks.has(pack)) {
      try {
        compareToc(pack, await readPackToc({ backend, name: pack }, key), facts);
      } catch (error) {
        const message = damage(error).message;
        report(CheckProblemCode.packUnreadable, object, message);
        brokenPacks.set(pack, message);
      }
    }
    progress({ phase: 'packs', done: i + 1, total: packNames.length });
  }

  /** A pack's bytes, or undefined (reported) when it vanished since it was listed. */
  async function readWhole(pack: string): Promise<Buffer | undefined> {
    try {
      return await backend.get(FileType.data, pack);
    } catch (error) {
      const message = `pack ${pack}: ${damage(error).message}`;
      report(CheckProblemCode.packMissing, `data/${pack}`, message);
      lostPacks.set(pack, 'missing');
      return undefined;
    }
  }

  function compareToc(pack: string, toc: readonly PackEntry[], facts: PackFacts): void {
    let here = 0;
    for (const entry of toc) {
      const at = index.get(entry.id, entry.type);
      if (at === undefined) {
        report(
          CheckProblemCode.tocMismatch,
          `data/${pack}`,
          `pack ${pack}: ${entry.type} blob ${entry.id} is in the pack's table of contents but in no index`,
        );
        continue;
      }
      if (at.pack !== pack) continue; // a duplicate: the index uses the copy in another pack
      here++;
      if (
        at.offset !== entry.offset ||
        at.length !== entry.length ||
        at.plaintextLength !== entry.plaintextLength ||
        at.compressed !== entry.compressed
      ) {
        report(
          CheckProblemCode.tocMismatch,
          `data/${pack}`,
          `pack ${pack}: ${entry.type} blob ${entry.id} is at ${entry.offset}+${entry.length} in the table of contents, at ${at.offset}+${at.length} in the index`,
        );
      }
    }
    if (here !== facts.entries) {
      const message = `pack ${pack}: the index lists ${facts.entries} blobs in it, its table of contents ${here}`;
      report(CheckProblemCode.tocMismatch, `data/${pack}`, message);
      brokenPacks.set(pack, message);
    }
  }

  // Snapshots: every manifest, every content list, every chunk.
  const damaged: DamagedSnapshot[] = [];
  const lists = new Map<string, ListResult>();
  const trees = new Map<string, ListResult>();
  const snapshotNames = (await names(backend, FileType.snapshots)).filter(isHexId);
  for (const [i, id] of snapshotNames.entries()) {
    const object: CheckObject = `snapshots/${id}`;
    let manifest: SnapshotManifest;
    try {
      manifest = await readSnapshot(backend, key, id);
    } catch (error) {
      const message = damage(error).message;
      report(CheckProblemCode.snapshotUnreadable, object, message);
      damaged.push({ id, reasons: [`manifest: ${message}`] });
      progress({ phase: 'snapshots', done: i + 1, total: snapshotNames.length });
      continue;
    }
    const reasons: string[] = [];
    const content = manifest.content;
    if (content.type === 'stream') {
      let size = 0;
      let sized = true;
      for (const listId of content.lists) {
        const result = await checkList(listId);
        reasons.push(...result.reasons);
        if (result.size === undefined) sized = false;
        else size += result.size;
      }
      if (sized && size !== content.size) {
        const message = `snapshot ${id}: its chunks hold ${size} bytes, the manifest says ${content.size}`;
        report(CheckProblemCode.snapshotSize, object, message);
        reasons.push(message);
      }
    } else {
      const result = await checkTree(content.root);
      reasons.push(...result.reasons.map((reason) => `/${reason}`));
    }
    for (const reason of reasons) {
      if (reason.includes(NOT_INDEXED)) {
        report(CheckProblemCode.blobNotIndexed, object, `snapshot ${id}: ${reason}`);
      }
    }
    if (reasons.length > 0) damaged.push({ id, reasons: capped([...new Set(reasons)]) });
    progress({ phase: 'snapshots', done: i + 1, total: snapshotNames.length });
  }

  /** Why a blob at this index location cannot be trusted, or undefined. */
  function blobTrouble(entry: IndexEntry): string | undefined {
    const lost = lostPacks.get(entry.pack);
    if (lost !== undefined) return `in pack ${entry.pack}, which is ${lost}`;
    const bad = damagedBlobs.get(`${entry.type}:${entry.id}`);
    if (bad !== undefined) return `damaged in pack ${entry.pack}`;
    if (brokenPacks.has(entry.pack))
      return `in pack ${entry.pack}, whose trailer or table of contents is damaged`;
    return undefined;
  }

  /**
   * Reads, authenticates and (for content lists and trees) re-hashes a `tree`-type blob a
   * snapshot references. Returns its plaintext, or the reasons it cannot be used (reported
   * against its pack when it is this read that found the damage).
   */
  async function readMetaBlob(id: string, kind: string): Promise<Buffer | string[]> {
    const entry = index.get(id, 'tree');
    if (entry === undefined) return [`${NOT_INDEXED} ${kind} ${id}`];
    if (lostPacks.has(entry.pack) || damagedBlobs.has(`tree:${id}`)) {
      // Already reported against its pack; what it lists cannot be known.
      return [`${kind} ${id} is ${blobTrouble(entry) ?? 'unreadable'}`];
    }
    const what = `${kind} ${id} in pack ${entry.pack}`;
    try {
      const sealed = await backend.get(FileType.data, entry.pack, {
        offset: entry.offset,
        length: entry.length,
      });
      const { header, plaintext } = openBlob(key, sealed, 'tree', { what });
      const data = header.compressed
        ? await ctx.decompress(plaintext, header.length, what)
        : plaintext;
      if (chunkId(keys.chunkId, data) !== id) {
        throw repoCorrupt(what, 'content does not match its id');
      }
      return data;
    } catch (error) {
      const message = damage(error).message;
      report(CheckProblemCode.contentListDamaged, `data/${entry.pack}`, message);
      return [message];
    }
  }

  /** Reasons a pack-level problem of a readable metadata blob adds (a damaged TOC). */
  function metaTrouble(id: string, kind: string): string[] {
    const entry = index.get(id, 'tree');
    const trouble = entry === undefined ? undefined : blobTrouble(entry);
    return trouble === undefined ? [] : [`${kind} ${id} is ${trouble}`];
  }

  /** Checks chunk ids against the index and the damage found; summarised per cause. */
  function checkChunks(ids: readonly string[], where: string): ListResult {
    const counts = new Map<string, { n: number; first: string }>();
    let size = 0;
    for (const id of ids) {
      const chunk = index.get(id, 'data');
      const cause = chunk === undefined ? NOT_INDEXED : blobTrouble(chunk);
      if (chunk !== undefined) size += chunk.plaintextLength;
      if (cause === undefined) continue;
      const seen = counts.get(cause);
      if (seen === undefined) counts.set(cause, { n: 1, first: id });
      else seen.n++;
    }
    const reasons: string[] = [];
    for (const [cause, { n, first }] of counts) {
      const chunks = `${n} chunk${n === 1 ? '' : 's'}`;
      reasons.push(
        cause === NOT_INDEXED
          ? `${NOT_INDEXED} ${chunks} of ${where} (first ${first})`
          : `${chunks} of ${where} ${cause} (first ${first})`,
      );
    }
    return counts.has(NOT_INDEXED) ? { reasons } : { reasons, size };
  }

  async function checkList(listId: string): Promise<ListResult> {
    const cached = lists.get(listId);
    if (cached !== undefined) return cached;
    const plaintext = await readMetaBlob(listId, 'content list');
    let result: ListResult;
    if (Array.isArray(plaintext)) {
      result = { reasons: plaintext };
    } else {
      try {
        const ids = decodeContentList(plaintext, `content list ${listId}`);
        const chunks = checkChunks(ids, `content list ${listId}`);
        result = {
          ...chunks,
          reasons: [...metaTrouble(listId, 'content list'), ...chunks.reasons],
        };
      } catch (error) {
        const message = damage(error).message;
        const entry = index.get(listId, 'tree');
        if (entry) report(CheckProblemCode.contentListDamaged, `data/${entry.pack}`, message);
        result = { reasons: [message] };
      }
    }
    lists.set(listId, result);
    return result;
  }

  /**
   * Walks a directory tree: every subtree, content list and chunk. Results are cached per
   * tree id (an unchanged directory is shared by many snapshots); reasons name paths
   * relative to this tree.
   */
  async function checkTree(treeId: string): Promise<ListResult> {
    const cached = trees.get(treeId);
    if (cached !== undefined) return cached;
    const plaintext = await readMetaBlob(treeId, 'tree');
    const tree = Array.isArray(plaintext) ? plaintext : parseTree(treeId, plaintext);
    const result = Array.isArray(tree) ? { reasons: tree } : await walkTree(treeId, tree);
    trees.set(treeId, result);
    return result;
  }

  function parseTree(treeId: string, plaintext: Buffer): Tree | string[] {
    try {
      return decodeTree(plaintext, `tree ${treeId}`);
    } catch (error) {
      const message = damage(error).message;
      const entry = index.get(treeId, 'tree');
      if (entry) report(CheckProblemCode.contentListDamaged, `data/${entry.pack}`, message);
      return [message];
    }
  }

  async function walkTree(treeId: string, tree: Tree): Promise<ListResult> {
    const reasons = metaTrouble(treeId, 'tree');
    for (const entry of tree.entries) {
      if (entry.type === 'dir') {
        const sub = await checkTree(entry.subtree);
        reasons.push(...sub.reasons.map((reason) => `${entry.name}/${reason}`));
      } else if (entry.type === 'file') {
        const parts: ListResult[] = [];
        if (entry.chunks !== undefined) parts.push(checkChunks(entry.chunks, 'the file'));
        for (const listId of entry.lists ?? []) parts.push(await checkList(listId));
        const fileReasons = parts.flatMap((part) => part.reasons);
        const size = parts.every((part) => part.size !== undefined)
          ? parts.reduce((sum, part) => sum + (part.size ?? 0), 0)
          : undefined;
        if (size !== undefined && size !== entry.size) {
          fileReasons.push(`its chunks hold ${size} bytes, the tree says ${entry.size}`);
        }
        reasons.push(...fileReasons.map((reason) => `${entry.name}: ${reason}`));
      }
    }
    return { reasons };
  }

  const problemList = [...problems.values()];
  return {
    ok: problemList.length === 0,
    mode: !readData
      ? 'structure'
      : subset === undefined || subset === 100
        ? 'read-data'
        : 'read-data-subset',
    packs: { total: stored.size, read: packsRead, unindexed, marked },
    blobs: { total: index.size, read: blobsRead },
    snapshots: { total: snapshotNames.length, damaged },
    problems: problemList,
  };
}

/** Reasons found in one content list, and its bytes when every chunk is indexed. */
interface ListResult {
  reasons: string[];
  size?: number;
}

const NOT_INDEXED = 'in no index:';
/** Most reasons listed per damaged snapshot; the rest are counted. */
const MAX_REASONS = 50;

function capped(reasons: string[]): string[] {
  if (reasons.length <= MAX_REASONS) return reasons;
  return [...reasons.slice(0, MAX_REASONS), `… and ${reasons.length - MAX_REASONS} more`];
}

/**
 * Turns a damage error into the ShipError to report; rethrows anything else (I/O failures,
 * bugs), since those mean the check cannot run rather than that the repository is damaged.
 */
function damage(error: unknown): ShipError {
  if (isShipError(error) && error.exitCode === ExitCode.repoCorrupt) return error;
  throw error;
}

async function names(backend: Backend, type: FileType): Promise<string[]> {
  const found: string[] = [];
  for await (const { name } of backend.list(type)) found.push(name);
  return found.sort();
}

/** The blobs the index places in `pack`, in pack order (for a pack whose TOC is damaged). */
function indexedIn(index: MasterIndex, pack: string): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (const entry of index.entries()) if (entry.pack === pack) entries.push(entry);
  return entries.sort((a, b) => a.offset - b.offset);
}

/**
 * Authenticates one blob of a pack held in memory, decompresses it and recomputes its id.
 * Returns what is wrong, or undefined.
 */
async function verifyBlob(
  ctx: CheckContext,
  pack: Buffer,
  entry: PackEntry,
  packWhat: string,
): Promise<string | undefined> {
  const what = `${entry.type} blob ${entry.id} at ${entry.offset} in ${packWhat}`;
  if (entry.offset + entry.length > pack.length) {
    return `${what}: reaches past the end of the pack (${pack.length} bytes)`;
  }
  try {
    const sealed = pack.subarray(entry.offset, entry.offset + entry.length);
    const { header, plaintext } = openBlob(ctx.keys.encryption, sealed, entry.type, { what });
    if (header.length !== entry.plaintextLength || header.compressed !== entry.compressed) {
      return `${what}: header says ${header.length} bytes${header.compressed ? ' compressed' : ''}, the table of contents ${entry.plaintextLength}`;
    }
    const data = header.compressed
      ? await ctx.decompress(plaintext, header.length, what)
      : plaintext;
    if (chunkId(ctx.keys.chunkId, data) !== entry.id) {
      return `${what}: content does not match its id`;
    }
    return undefined;
  } catch (error) {
    return damage(error).message;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure rejects. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The packs to read whole: all of them, or `percent` % of them picked by a seeded shuffle
 * (at least one when there are any), so a series of subset runs covers different packs.
 */
function pickPacks(
  packs: readonly string[],
  percent: number | undefined,
  seed: number | undefined,
): Set<string> {
  if (percent === undefined || percent >= 100) return new Set(packs);
  const count = packs.length === 0 ? 0 : Math.max(1, Math.round((packs.length * percent) / 100));
  const random = mulberry32(seed ?? randomInt(0, 2 ** 32));
  const order = [...packs];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  return new Set(order.slice(0, count));
}

/** A small seeded PRNG (uniform in [0, 1)); picking packs needs no cryptographic quality. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
