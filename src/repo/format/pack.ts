import {
  BLOB_FLAGS,
  BLOB_OVERHEAD_BYTES,
  BLOB_TYPES,
  decodeBlobHeader,
  openBlob,
  repoCorrupt,
  sealBlob,
  type BlobType,
} from '../crypto/index.js';
import { FileType, type Backend } from '../backend/index.js';
import { failpoint, isShipError } from '../../core/index.js';

import { readId, sha256Hex, writeId } from './ids.js';

/** Default pack size target: 32 MiB. */
export const DEFAULT_PACK_TARGET_BYTES = 32 * 1024 * 1024;
/** Smallest pack target a repository is configured with: 16 MiB. */
export const MIN_PACK_TARGET_BYTES = 16 * 1024 * 1024;
/** Largest pack target: 64 MiB. */
export const MAX_PACK_TARGET_BYTES = 64 * 1024 * 1024;

/** ASCII `SHIPPACK`: the last 8 bytes of every pack. */
export const PACK_MAGIC = Buffer.from('SHIPPACK', 'ascii');
/** Trailer: sealed TOC length (uint32 BE) then the 8-byte magic. */
export const PACK_TRAILER_BYTES = 4 + PACK_MAGIC.length;
/** Version byte of a TOC's (and an index file's) plaintext. */
export const TOC_VERSION = 1;
/** Bytes before the first entry of a TOC plaintext: version, 3 reserved, uint32 count. */
export const TOC_HEADER_BYTES = 8;
/** Bytes of one entry, in a TOC and in an index file. */
export const ENTRY_BYTES = 48;
/** Largest offset or length an entry can hold (uint32). */
const MAX_UINT32 = 0xffff_ffff;
/** Blob types a pack may hold. Metadata blobs (index, snapshot, TOC) live in their own objects. */
export const PACKED_BLOB_TYPES: readonly BlobType[] = ['data', 'tree'];

const typeByCode = new Map<number, BlobType>(
  Object.entries(BLOB_TYPES).map(([name, code]) => [code, name as BlobType]),
);

/** One blob in a pack: where it is and what its header says. */
export interface PackEntry {
  /** Blob id, 64 lowercase hex (a chunk id for data and content-list blobs). */
  readonly id: string;
  readonly type: BlobType;
  /** The blob's payload is zstd-compressed (header flag bit 0). */
  readonly compressed: boolean;
  /** Byte offset of the sealed blob from the start of the pack. */
  readonly offset: number;
  /** Sealed length: header, nonce, ciphertext and tag. */
  readonly length: number;
  /** The header's length field: the content's length before compression. */
  readonly plaintextLength: number;
}

/**
 * Encodes one 48-byte entry (TOC and index files share it):
 * `id (32) || type (1) || flags (1) || reserved 0 (2) || offset (4) || length (4) ||
 * plaintextLength (4)`, integers uint32 big-endian.
 */
export function encodeEntry(target: Buffer, at: number, entry: PackEntry): void {
  writeId(target, entry.id, at);
  target[at + 32] = BLOB_TYPES[entry.type];
  target[at + 33] = entry.compressed ? BLOB_FLAGS.compressed : 0;
  target.writeUInt16BE(0, at + 34);
  target.writeUInt32BE(entry.offset, at + 36);
  target.writeUInt32BE(entry.length, at + 40);
  target.writeUInt32BE(entry.plaintextLength, at + 44);
}

/**
 * Decodes and checks one entry's own fields (a known packed type, known flags, zero reserved
 * bytes, a sealed length that fits its plaintext length). Where it sits in the pack is the
 * caller's to check. Throws `SHIP_REPO_CORRUPT` naming `what`.
 */
export function decodeEntry(source: Buffer, at: number, what: string): PackEntry {
  const id = readId(source, at);
  const typeCode = source[at + 32] ?? 0;
  const type = typeByCode.get(typeCode);
  if (type === undefined || !PACKED_BLOB_TYPES.includes(type)) {
    throw repoCorrupt(
      what,
      `entry for blob ${id} has blob type ${typeCode}, expected data or tree`,
    );
  }
  const flags = source[at + 33] ?? 0;
  if ((flags & ~BLOB_FLAGS.compressed) !== 0 || source.readUInt16BE(at + 34) !== 0) {
    throw repoCorrupt(what, `entry for blob ${id} has unknown flags or non-zero reserved bytes`);
  }
  const compressed = flags === BLOB_FLAGS.compressed;
  const offset = source.readUInt32BE(at + 36);
  const length = source.readUInt32BE(at + 40);
  const plaintextLength = source.readUInt32BE(at + 44);
  if (length < BLOB_OVERHEAD_BYTES) {
    throw repoCorrupt(what, `entry for blob ${id} is ${length} bytes, shorter than a blob`);
  }
  if (!compressed && length !== plaintextLength + BLOB_OVERHEAD_BYTES) {
    throw repoCorrupt(
      what,
      `entry for blob ${id}: sealed length ${length} does not match plaintext length ${plaintextLength}`,
    );
  }
  return { id, type, compressed, offset, length, plaintextLength };
}

/** A finished pack: its id, its bytes (as the parts to write, in order) and its entries. */
export interface FinishedPack {
  /** Lowercase hex SHA-256 of the pack's bytes: its name under `data/`. */
  readonly id: string;
  /** Total bytes of the pack. */
  readonly size: number;
  /** The pack's bytes in order: every sealed blob, the sealed TOC, the trailer. */
  readonly parts: readonly Buffer[];
  /** One entry per blob, in pack order. */
  readonly entries: readonly PackEntry[];
}

/** Options for {@link PackWriter}. */
export interface PackWriterOptions {
  /**
   * A pack counts as full once it holds this many bytes of blobs. Repositories use 16–64 MiB;
   * smaller values are for tests. @default DEFAULT_PACK_TARGET_BYTES (32 MiB)
   */
  targetBytes?: number;
}

/**
 * Accumulates sealed blobs into one pack: `blob_0 || … || blob_n-1 || sealed TOC || trailer`.
 * Holds the sealed blobs of one pack (≈ the target size) until {@link finish}.
 *
 * @example
 * const writer = new PackWriter(subkeys.encryption);
 * writer.add(id, sealBlob(key, { type: 'data', compressed: false }, chunk));
 * if (writer.full) await writePack(backend, writer.finish());
 */
export class PackWriter {
  readonly targetBytes: number;
  readonly #key: Uint8Array;
  #parts: Buffer[] = [];
  #entries: PackEntry[] = [];
  #ids = new Set<string>();
  #size = 0;

  constructor(key: Uint8Array, options: PackWriterOptions = {}) {
    this.#key = key;
    this.targetBytes = options.targetBytes ?? DEFAULT_PACK_TARGET_BYTES;
    if (!Number.isSafeInteger(this.targetBytes) || this.targetBytes < 1) {
      throw new Error(`pack target must be a positive integer, got ${this.targetBytes}`);
    }
    if (this.targetBytes > MAX_PACK_TARGET_BYTES) {
      throw new Error(`pack target must be at most ${MAX_PACK_TARGET_BYTES} bytes`);
    }
  }

  /** Bytes of blobs added so far. */
  get size(): number {
    return this.#size;
  }

  /** Blobs added so far. */
  get count(): number {
    return this.#entries.length;
  }

  /** The pack has reached its target size: finish it. */
  get full(): boolean {
    return this.#size >= this.targetBytes;
  }

  /** True if a blob with this id and type is already in this pack. */
  has(id: string, type: BlobType): boolean {
    return this.#ids.has(`${type}:${id}`);
  }

  /**
   * Adds a sealed blob (from `sealBlob`) of type data or tree under its id. Its type, flag and
   * plaintext length are read from its header. The pack keeps a reference to `sealed`.
   *
   * `sealed` may also be the blob as consecutive pieces (as a worker returns it: header and
   * nonce, ciphertext, tag): the pack writes them in order without joining them, so a backup
   * does not copy every blob once more. The first piece must hold the whole header.
   */
  add(id: string, sealed: Buffer | readonly Buffer[]): PackEntry {
    const pieces: readonly Buffer[] = Buffer.isBuffer(sealed) ? [sealed] : sealed;
    const header = decodeBlobHeader(pieces[0] ?? Buffer.alloc(0), `blob ${id}`);
    if (!PACKED_BLOB_TYPES.includes(header.type)) {
      throw new Error(`a pack holds data and tree blobs, not ${header.type}`);
    }
    let length = 0;
    for (const piece of pieces) length += piece.length;
    if (this.#size + length > MAX_UINT32) {
      throw new Error('a pack cannot exceed 4 GiB: finish it before adding more');
    }
    const entry: PackEntry = {
      id,
      type: header.type,
      compressed: header.compressed,
      offset: this.#size,
      length,
      plaintextLength: header.length,
    };
    for (const piece of pieces) this.#parts.push(piece);
    this.#entries.push(entry);
    this.#ids.add(`${header.type}:${id}`);
    this.#size += length;
    return entry;
  }

  /** Seals the TOC, appends it and the trailer, and returns the pack. Resets the writer. */
  finish(): FinishedPack {
    if (this.#entries.length === 0) throw new Error('cannot finish an empty pack');
    const toc = encodeToc(this.#entries);
    const sealedToc = sealBlob(this.#key, { type: 'packToc', compressed: false }, toc);
    const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
    trailer.writeUInt32BE(sealedToc.length, 0);
    PACK_MAGIC.copy(trailer, 4);
    const parts = [...this.#parts, sealedToc, trailer];
    const pack: FinishedPack = {
      id: sha256Hex(parts),
      size: this.#size + sealedToc.length + trailer.length,
      parts,
      entries: this.#entries,
    };
    this.#parts = [];
    this.#entries = [];
    this.#ids = new Set();
    this.#size = 0;
    return pack;
  }
}

/** The TOC plaintext: version, 3 zero bytes, uint32 BE entry count, then the entries. */
export function encodeToc(entries: readonly PackEntry[]): Buffer {
  const out = Buffer.alloc(TOC_HEADER_BYTES + ENTRY_BYTES * entries.length);
  out[0] = TOC_VERSION;
  out.writeUInt32BE(entries.length, 4);
  entries.forEach((entry, i) => {
    encodeEntry(out, TOC_HEADER_BYTES + i * ENTRY_BYTES, entry);
  });
  return out;
}

/**
 * Parses and validates an (authenticated) TOC plaintext against the pack it came from: the
 * entries must tile `[0, blobsEnd)` exactly, in order, without gaps or overlaps.
 * Throws `SHIP_REPO_CORRUPT` naming `what`.
 */
export function decodeToc(plaintext: Buffer, blobsEnd: number, what: string): PackEntry[] {
  if (plaintext.length < TOC_HEADER_BYTES) {
    throw repoCorrupt(what, `table of contents is ${plaintext.length} bytes, too short`);
  }
  if (plaintext[0] !== TOC_VERSION) {
    throw repoCorrupt(what, `table of contents version ${plaintext[0] ?? 0}, expected 1`);
  }
  if ((plaintext[1] ?? 0) !== 0 || (plaintext[2] ?? 0) !== 0 || (plaintext[3] ?? 0) !== 0) {
    throw repoCorrupt(what, 'table of contents has non-zero reserved bytes');
  }
  const count = plaintext.readUInt32BE(4);
  if (plaintext.length !== TOC_HEADER_BYTES + count * ENTRY_BYTES) {
    throw repoCorrupt(
      what,
      `table of contents declares ${count} entries but holds ${plaintext.length} bytes`,
    );
  }
  const entries: PackEntry[] = [];
  let expectedOffset = 0;
  for (let i = 0; i < count; i++) {
    const entry = decodeEntry(plaintext, TOC_HEADER_BYTES + i * ENTRY_BYTES, what);
    if (entry.offset !== expectedOffset || entry.offset + entry.length > blobsEnd) {
      throw repoCorrupt(
        what,
        `entry ${i} (blob ${entry.id}) at ${entry.offset}+${entry.length} does not follow the previous blob (expected offset ${expectedOffset}) within ${blobsEnd} bytes of blobs`,
      );
    }
    expectedOffset = entry.offset + entry.length;
    entries.push(entry);
  }
  if (expectedOffset !== blobsEnd) {
    throw repoCorrupt(what, `blobs end at ${expectedOffset}, the TOC starts at ${blobsEnd}`);
  }
  return entries;
}

/** Where to read a pack from: its bytes, or a backend and the pack's name. */
export type PackSource = Uint8Array | { backend: Backend; name: string };

/**
 * Reads and authenticates a pack's table of contents with two range reads (trailer, then TOC),
 * and validates every entry against the pack size. Never allocates more than the pack holds.
 *
 * Throws `SHIP_REPO_CORRUPT` naming the pack on any damage (short pack, wrong magic, TOC length
 * out of range, failed authentication, malformed entries).
 *
 * @example
 * const entries = await readPackToc({ backend, name: packId }, subkeys.encryption);
 */
export async function readPackToc(source: PackSource, key: Uint8Array): Promise<PackEntry[]> {
  const what =
    source instanceof Uint8Array ? 'pack' : `pack ${source.name} in ${source.backend.location}`;
  let size: number;
  let read: (offset: number, length: number) => Promise<Buffer>;
  if (source instanceof Uint8Array) {
    const bytes = Buffer.from(source.buffer, source.byteOffset, source.length);
    size = bytes.length;
    read = (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length));
  } else {
    const info = await source.backend.stat(FileType.data, source.name);
    if (info === undefined) throw repoCorrupt(what, 'does not exist');
    size = info.size;
    read = (offset, length) => source.backend.get(FileType.data, source.name, { offset, length });
  }
  if (size < PACK_TRAILER_BYTES + BLOB_OVERHEAD_BYTES) {
    throw repoCorrupt(what, `is ${size} bytes, too short to be a pack`);
  }
  const trailer = await read(size - PACK_TRAILER_BYTES, PACK_TRAILER_BYTES);
  if (!trailer.subarray(4).equals(PACK_MAGIC)) {
    throw repoCorrupt(what, 'does not end with the SHIPPACK magic (truncated or not a pack)');
  }
  const tocLength = trailer.readUInt32BE(0);
  const tocStart = size - PACK_TRAILER_BYTES - tocLength;
  if (tocLength < BLOB_OVERHEAD_BYTES + TOC_HEADER_BYTES || tocStart < 0) {
    throw repoCorrupt(what, `trailer gives a TOC length of ${tocLength} in a ${size}-byte pack`);
  }
  const sealedToc = await read(tocStart, tocLength);
  const { plaintext } = openBlob(key, sealedToc, 'packToc', {
    what: `table of contents of ${what}`,
  });
  return decodeToc(plaintext, tocStart, what);
}

/**
 * Stores a finished pack under `data/<id>`, create-only: packs are content-addressed, so an
 * existing object of the same name already holds these bytes and is kept.
 */
export async function writePack(backend: Backend, pack: FinishedPack): Promise<void> {
  // The backend takes a Buffer or an async stream; streaming the parts avoids a 32 MiB concat.
  // eslint-disable-next-line @typescript-eslint/require-await
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for (const part of pack.parts) yield part;
  }
  const ifAbsent = backend.capabilities.conditionalPut;
  if (!ifAbsent && (await backend.stat(FileType.data, pack.id)) !== undefined) return;
  try {
    await backend.put(FileType.data, pack.id, bytes(), { ifAbsent });
  } catch (error) {
    if (isShipError(error) && error.code === 'SHIP_REPO_EXISTS') return;
    throw error;
  }
  failpoint('pack.written');
}
