import { openBlob, repoCorrupt, sealBlob } from '../crypto/index.js';
import { FileType, type Backend } from '../backend/index.js';
import { ExitCode, failpoint, isShipError } from '../../core/index.js';

import { ID_BYTES, isHexId, readId, sha256Hex, writeId } from './ids.js';
import { MasterIndex } from './master-index.js';
import {
  ENTRY_BYTES,
  TOC_VERSION,
  decodeEntry,
  encodeEntry,
  readPackToc,
  type PackEntry,
} from './pack.js';

/** Version byte of an index file's plaintext. */
export const INDEX_FILE_VERSION = TOC_VERSION;
/** Bytes before the first pack record: version, 3 reserved, uint32 pack count. */
export const INDEX_HEADER_BYTES = 8;
/** Bytes before a pack's entries: pack id (32) and uint32 entry count. */
export const INDEX_PACK_HEADER_BYTES = ID_BYTES + 4;
/**
 * Most blob entries one index file holds (≈ 2.4 MiB of plaintext); a backup writing more
 * splits them over several index files, so no single file has to be held whole when large.
 */
export const MAX_INDEX_FILE_ENTRIES = 50_000;

/** The packs an index file lists, each with its blobs. */
export interface IndexFilePack {
  readonly pack: string;
  readonly entries: readonly PackEntry[];
}

/**
 * Encodes the plaintext of an index file:
 * `version (1) || reserved 0 (3) || pack count (uint32 BE)`, then per pack
 * `pack id (32) || entry count (uint32 BE) || entries (48 bytes each, as in a TOC)`.
 */
export function encodeIndexFile(packs: readonly IndexFilePack[]): Buffer {
  const total = packs.reduce(
    (sum, pack) => sum + INDEX_PACK_HEADER_BYTES + pack.entries.length * ENTRY_BYTES,
    INDEX_HEADER_BYTES,
  );
  const out = Buffer.alloc(total);
  out[0] = INDEX_FILE_VERSION;
  out.writeUInt32BE(packs.length, 4);
  let at = INDEX_HEADER_BYTES;
  for (const pack of packs) {
    writeId(out, pack.pack, at);
    out.writeUInt32BE(pack.entries.length, at + ID_BYTES);
    at += INDEX_PACK_HEADER_BYTES;
    for (const entry of pack.entries) {
      encodeEntry(out, at, entry);
      at += ENTRY_BYTES;
    }
  }
  return out;
}

/** Decodes and validates an index file's (authenticated) plaintext; `SHIP_REPO_CORRUPT` on damage. */
export function decodeIndexFile(plaintext: Buffer, what: string): IndexFilePack[] {
  if (plaintext.length < INDEX_HEADER_BYTES || plaintext[0] !== INDEX_FILE_VERSION) {
    throw repoCorrupt(what, 'not a version 1 index file');
  }
  const packCount = plaintext.readUInt32BE(4);
  const packs: IndexFilePack[] = [];
  let at = INDEX_HEADER_BYTES;
  for (let p = 0; p < packCount; p++) {
    if (at + INDEX_PACK_HEADER_BYTES > plaintext.length) {
      throw repoCorrupt(what, `truncated at pack record ${p} of ${packCount}`);
    }
    const pack = readId(plaintext, at);
    const count = plaintext.readUInt32BE(at + ID_BYTES);
    at += INDEX_PACK_HEADER_BYTES;
    if (at + count * ENTRY_BYTES > plaintext.length) {
      throw repoCorrupt(what, `pack ${pack} declares ${count} entries past the end of the file`);
    }
    const entries: PackEntry[] = [];
    for (let i = 0; i < count; i++) {
      entries.push(decodeEntry(plaintext, at, `${what}, pack ${pack}`));
      at += ENTRY_BYTES;
    }
    packs.push({ pack, entries });
  }
  if (at !== plaintext.length) {
    throw repoCorrupt(what, `${plaintext.length - at} bytes after the last pack record`);
  }
  return packs;
}

/**
 * Seals and stores index files listing `packs` (split every {@link MAX_INDEX_FILE_ENTRIES}
 * entries; a pack's entries may span two files). Each is stored create-only as
 * `index/<sha256 of its sealed bytes>`. Returns the names and total bytes written.
 */
export async function writeIndexFiles(
  backend: Backend,
  key: Uint8Array,
  packs: readonly IndexFilePack[],
  options: { maxEntries?: number } = {},
): Promise<{ names: string[]; bytes: number }> {
  const maxEntries = options.maxEntries ?? MAX_INDEX_FILE_ENTRIES;
  const names: string[] = [];
  let bytes = 0;
  let batch: IndexFilePack[] = [];
  let batchEntries = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const sealed = sealBlob(key, { type: 'index', compressed: false }, encodeIndexFile(batch));
    const name = sha256Hex(sealed);
    await putIfAbsent(backend, FileType.index, name, sealed);
    failpoint('index.written');
    names.push(name);
    bytes += sealed.length;
    batch = [];
    batchEntries = 0;
  };
  for (const pack of packs) {
    for (let start = 0; start < pack.entries.length;) {
      const take = Math.min(pack.entries.length - start, maxEntries - batchEntries);
      batch.push({ pack: pack.pack, entries: pack.entries.slice(start, start + take) });
      batchEntries += take;
      start += take;
      if (batchEntries >= maxEntries) await flush();
    }
  }
  await flush();
  return { names, bytes };
}

/** Reads, authenticates and decodes one index file. */
export async function readIndexFile(
  backend: Backend,
  key: Uint8Array,
  name: string,
): Promise<IndexFilePack[]> {
  const what = `index file ${name}`;
  const sealed = await backend.get(FileType.index, name);
  if (isHexId(name) && sha256Hex(sealed) !== name) {
    throw repoCorrupt(what, 'content does not match its name (SHA-256)');
  }
  const { plaintext } = openBlob(key, sealed, 'index', { what });
  return decodeIndexFile(plaintext, what);
}

/** Loads every index file into a {@link MasterIndex}, one file at a time. */
export async function loadMasterIndex(backend: Backend, key: Uint8Array): Promise<MasterIndex> {
  const index = new MasterIndex();
  for await (const { name } of backend.list(FileType.index)) {
    for (const pack of await readIndexFile(backend, key, name)) {
      for (const entry of pack.entries) index.add(pack.pack, entry);
    }
  }
  return index;
}

/** A pack whose TOC could not be read during a rebuild. */
export interface DamagedPack {
  readonly pack: string;
  readonly error: Error;
}

/**
 * Rebuilds the index from the packs alone: lists `data/`, reads each pack's TOC (two range
 * reads) and indexes its blobs. Packs whose TOC is damaged are reported, not fatal.
 * The keys argument needs only the `encryption` sub-key.
 *
 * @example
 * const { index, damaged } = await rebuildIndexFromPacks(backend, subkeys);
 */
export async function rebuildIndexFromPacks(
  backend: Backend,
  keys: { readonly encryption: Uint8Array },
): Promise<{ index: MasterIndex; packs: IndexFilePack[]; damaged: DamagedPack[] }> {
  const index = new MasterIndex();
  const packs: IndexFilePack[] = [];
  const damaged: DamagedPack[] = [];
  for await (const { name } of backend.list(FileType.data)) {
    let entries: PackEntry[];
    try {
      entries = await readPackToc({ backend, name }, keys.encryption);
    } catch (error) {
      if (!isShipError(error) || error.code !== 'SHIP_REPO_CORRUPT') throw error;
      damaged.push({ pack: name, error });
      continue;
    }
    packs.push({ pack: name, entries });
    for (const entry of entries) index.add(name, entry);
  }
  return { index, packs, damaged };
}

/**
 * Packs in `data/` that no index lists — left by a backup that crashed after writing them but
 * before writing its index files — read from their tables of contents (two range reads each).
 * Only packs holding at least one blob `index` lacks are returned; packs whose TOC cannot be
 * read (or that vanished meanwhile) are skipped: `check` reports them and prune deals with them.
 *
 * @example
 * for (const pack of await findUnindexedPacks(backend, key, index, (name) => false)) { … }
 */
export async function findUnindexedPacks(
  backend: Backend,
  key: Uint8Array,
  index: MasterIndex,
  isKnown: (pack: string) => boolean,
): Promise<IndexFilePack[]> {
  const indexed = new Set(index.packs());
  const found: IndexFilePack[] = [];
  for await (const { name } of backend.list(FileType.data)) {
    if (indexed.has(name) || isKnown(name)) continue;
    let entries: PackEntry[];
    try {
      entries = await readPackToc({ backend, name }, key);
    } catch (error) {
      const skip =
        isShipError(error) &&
        (error.exitCode === ExitCode.repoCorrupt || error.code === 'SHIP_REPO_NOT_FOUND');
      if (skip) continue;
      throw error;
    }
    if (entries.some((entry) => !index.has(entry.id, entry.type))) {
      found.push({ pack: name, entries });
    }
  }
  return found;
}

/** Stores an object create-only; an existing object of a content-addressed name is kept. */
export async function putIfAbsent(
  backend: Backend,
  type: FileType,
  name: string,
  data: Buffer,
): Promise<void> {
  const ifAbsent = backend.capabilities.conditionalPut;
  if (!ifAbsent && (await backend.stat(type, name)) !== undefined) return;
  try {
    await backend.put(type, name, data, { ifAbsent });
  } catch (error) {
    if (isShipError(error) && error.code === 'SHIP_REPO_EXISTS') return;
    throw error;
  }
}
