import { BLOB_TYPES, type BlobType } from '../crypto/index.js';

import { ID_BYTES, isHexId } from './ids.js';
import type { PackEntry } from './pack.js';

/** Where a blob lives, as the master index answers. */
export interface IndexEntry {
  readonly id: string;
  /** Pack id (its name under `data/`). */
  readonly pack: string;
  readonly type: BlobType;
  readonly compressed: boolean;
  /** Offset of the sealed blob in the pack. */
  readonly offset: number;
  /** Sealed length. */
  readonly length: number;
  /** Content length before compression. */
  readonly plaintextLength: number;
}

const typeByCode = new Map<number, BlobType>(
  Object.entries(BLOB_TYPES).map(([name, code]) => [code, name as BlobType]),
);

const INITIAL_CAPACITY = 1024;
const COMPRESSED_BIT = 0x80;

/**
 * The in-memory index of every blob in the repository: (id, type) → pack, offset, lengths.
 *
 * Compact on purpose, because it grows with the repository: ids live as raw bytes in one
 * Buffer and the numbers in typed arrays (≈ 49 bytes per blob), found through an
 * open-addressing table of int32 slots (linear probing, load ≤ 0.5; chunk ids are HMAC
 * outputs, so their first 4 bytes are a uniform hash). A `Map<string, object>` costs ~4× more.
 * See docs/repository-format.md "Index" for measured bytes per entry.
 */
export class MasterIndex {
  readonly #packs: string[] = [];
  readonly #packNumbers = new Map<string, number>();
  #ids = Buffer.alloc(INITIAL_CAPACITY * ID_BYTES);
  #pack = new Uint32Array(INITIAL_CAPACITY);
  #offset = new Uint32Array(INITIAL_CAPACITY);
  #length = new Uint32Array(INITIAL_CAPACITY);
  #plain = new Uint32Array(INITIAL_CAPACITY);
  /** Type code in the low bits, COMPRESSED_BIT when compressed. */
  #meta = new Uint8Array(INITIAL_CAPACITY);
  /** 0 = empty, otherwise entry number + 1. */
  #slots = new Int32Array(INITIAL_CAPACITY * 2);
  #count = 0;

  /** Number of blobs indexed. */
  get size(): number {
    return this.#count;
  }

  /** Ids of every pack that holds an indexed blob, in the order first seen. */
  packs(): readonly string[] {
    return this.#packs;
  }

  /**
   * Adds a blob of `pack`. Returns false (and keeps the first location) when a blob with the
   * same id and type is already indexed: duplicates across packs are harmless.
   */
  add(pack: string, entry: PackEntry): boolean {
    const raw = toRaw(entry.id);
    const code = BLOB_TYPES[entry.type];
    if (this.#find(raw, code) !== -1) return false;
    if (this.#count === this.#pack.length) this.#grow();
    let packNumber = this.#packNumbers.get(pack);
    if (packNumber === undefined) {
      packNumber = this.#packs.length;
      this.#packs.push(pack);
      this.#packNumbers.set(pack, packNumber);
    }
    const n = this.#count++;
    raw.copy(this.#ids, n * ID_BYTES);
    this.#pack[n] = packNumber;
    this.#offset[n] = entry.offset;
    this.#length[n] = entry.length;
    this.#plain[n] = entry.plaintextLength;
    this.#meta[n] = code | (entry.compressed ? COMPRESSED_BIT : 0);
    this.#insertSlot(raw, n);
    return true;
  }

  /** True if a blob of this id and type is indexed. */
  has(id: string, type: BlobType): boolean {
    return this.#find(toRaw(id), BLOB_TYPES[type]) !== -1;
  }

  /** Where the blob of this id and type is, or undefined. */
  get(id: string, type: BlobType): IndexEntry | undefined {
    const n = this.#find(toRaw(id), BLOB_TYPES[type]);
    return n === -1 ? undefined : this.#entry(n, id);
  }

  /** Every indexed blob, in insertion order. */
  *entries(): Generator<IndexEntry> {
    for (let n = 0; n < this.#count; n++) {
      yield this.#entry(n, this.#ids.toString('hex', n * ID_BYTES, (n + 1) * ID_BYTES));
    }
  }

  #entry(n: number, id: string): IndexEntry {
    const meta = this.#meta[n] ?? 0;
    return {
      id,
      pack: this.#packs[this.#pack[n] ?? 0] ?? '',
      type: typeByCode.get(meta & ~COMPRESSED_BIT) ?? 'data',
      compressed: (meta & COMPRESSED_BIT) !== 0,
      offset: this.#offset[n] ?? 0,
      length: this.#length[n] ?? 0,
      plaintextLength: this.#plain[n] ?? 0,
    };
  }

  #find(raw: Buffer, code: number): number {
    const mask = this.#slots.length - 1;
    for (let slot = raw.readUInt32BE(0) & mask; ; slot = (slot + 1) & mask) {
      const value = this.#slots[slot] ?? 0;
      if (value === 0) return -1;
      const n = value - 1;
      if (
        ((this.#meta[n] ?? 0) & ~COMPRESSED_BIT) === code &&
        raw.compare(this.#ids, n * ID_BYTES, (n + 1) * ID_BYTES) === 0
      ) {
        return n;
      }
    }
  }

  #insertSlot(raw: Buffer, n: number): void {
    const mask = this.#slots.length - 1;
    let slot = raw.readUInt32BE(0) & mask;
    while ((this.#slots[slot] ?? 0) !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = n + 1;
  }

  #grow(): void {
    const capacity = this.#pack.length * 2;
    const ids = Buffer.alloc(capacity * ID_BYTES);
    this.#ids.copy(ids);
    this.#ids = ids;
    this.#pack = grown(this.#pack, capacity);
    this.#offset = grown(this.#offset, capacity);
    this.#length = grown(this.#length, capacity);
    this.#plain = grown(this.#plain, capacity);
    const meta = new Uint8Array(capacity);
    meta.set(this.#meta);
    this.#meta = meta;
    this.#slots = new Int32Array(capacity * 2);
    for (let n = 0; n < this.#count; n++) {
      this.#insertSlot(this.#ids.subarray(n * ID_BYTES, (n + 1) * ID_BYTES), n);
    }
  }
}

function grown(array: Uint32Array, capacity: number): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(capacity);
  next.set(array);
  return next;
}

function toRaw(id: string): Buffer {
  if (!isHexId(id)) throw new Error(`not a 64-character lowercase hex id: ${JSON.stringify(id)}`);
  return Buffer.from(id, 'hex');
}
