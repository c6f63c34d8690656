import type { Backend } from '../backend/index.js';
import { chunkStream, type ChunkerParams } from '../chunker/index.js';
import type { CompressPool } from '../compress/index.js';
import { chunkId, sealBlob, type BlobType, type RepoSubkeys } from '../crypto/index.js';
import {
  MAX_CONTENT_LIST_IDS,
  PackWriter,
  encodeContentList,
  writePack,
  type IndexFilePack,
  type MasterIndex,
  type PackWriterOptions,
} from '../format/index.js';

import { MAX_INLINE_CHUNKS } from './format.js';

/** What a tree backup or restore needs of an open repository. */
export interface BlobContext {
  readonly backend: Backend;
  readonly keys: RepoSubkeys;
  readonly index: MasterIndex;
  /** Must have been created with `sealKeys` = these `keys`: blobs are sealed on its workers. */
  readonly pool: CompressPool;
  readonly chunker: ChunkerParams;
  readonly packOptions: PackWriterOptions;
  /** Called once a pack is durable and in `index`, so its index file gets written later. */
  readonly onPackWritten: (pack: IndexFilePack) => void;
}

/** Counters of a backup (the shape of `BackupProgress`). */
export interface SinkProgress {
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  chunks: number;
  newChunks: number;
}

/** Where a file's (or stream's) chunk ids went: inline, or into content lists. */
export type StoredContent = { chunks: string[] } | { lists: string[] };

interface SealedBlob {
  id: string;
  /** The sealed blob, whole or as the pieces a worker returned (see `SealedParts`). */
  sealed: Buffer | readonly Buffer[];
}

/**
 * The write side of every backup (`backupStream` and tree backups): chunk → id → dedup
 * (index, current pack, in flight) → compress + seal on the pool's workers (bounded window)
 * → pack, usable for many byte streams (one per file) and for tree blobs within one backup.
 * Chunk ids stay on this thread: a duplicate costs one HMAC here instead of a worker's
 * zstd + AES-GCM (measured: hashing in the workers made all-duplicate backups 17–29 %
 * slower for 5 % on new data). Pack assembly stays here too, so blob order is the chunk
 * order. Calls must not overlap: each is awaited before the next.
 */
export class BlobSink {
  readonly progress: SinkProgress = {
    bytesRead: 0,
    bytesNew: 0,
    bytesStored: 0,
    chunks: 0,
    newChunks: 0,
  };
  readonly #ctx: BlobContext;
  readonly #writer: PackWriter;
  readonly #inFlight = new Set<string>();
  readonly #window: Promise<SealedBlob>[] = [];
  readonly #maxWindow: number;
  readonly #onProgress: ((progress: SinkProgress) => void) | undefined;

  constructor(ctx: BlobContext, onProgress?: (progress: SinkProgress) => void) {
    this.#ctx = ctx;
    this.#writer = new PackWriter(ctx.keys.encryption, ctx.packOptions);
    this.#maxWindow = Math.max(2, ctx.pool.size * 2);
    this.#onProgress = onProgress;
  }

  /**
   * Chunks and stores one byte stream. Returns its chunk ids inline when there are at most
   * {@link MAX_INLINE_CHUNKS} (and `inline` allows), else in content lists of up to
   * {@link MAX_CONTENT_LIST_IDS} ids, so memory stays bounded for any size.
   */
  async storeContent(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { inline?: boolean } = {},
  ): Promise<StoredContent & { size: number }> {
    const lists: string[] = [];
    let ids: string[] = [];
    let size = 0;
    // Each chunk is used (hashed, and copied by `seal`) before the next is asked for, so the
    // chunker may reuse one work buffer instead of allocating 16 MiB after 16 MiB.
    const chunks = chunkStream(source, this.#ctx.chunker, this.#ctx.keys.chunker, {
      reuseBuffer: true,
    });
    for await (const chunk of chunks) {
      const id = chunkId(this.#ctx.keys.chunkId, chunk);
      size += chunk.length;
      this.progress.bytesRead += chunk.length;
      this.progress.chunks++;
      ids.push(id);
      if (!this.#known(id, 'data')) {
        this.progress.newChunks++;
        this.progress.bytesNew += chunk.length;
        this.#inFlight.add(id);
        // zstd and AES-GCM run on a worker; the main thread keeps chunking meanwhile.
        // `sealParts` copies the chunk before it returns; the pieces go into the pack unjoined.
        const task = this.#ctx.pool
          .sealParts(chunk, 'data')
          .then(({ parts }): SealedBlob => ({ id, sealed: parts }));
        // Handled when awaited; this only stops an early failure counting as unhandled.
        task.catch(() => undefined);
        this.#window.push(task);
        while (this.#window.length >= this.#maxWindow) {
          await this.#place(await (this.#window.shift() as Promise<SealedBlob>));
        }
      }
      if (ids.length === MAX_CONTENT_LIST_IDS) {
        lists.push(await this.#storeList(ids));
        ids = [];
      }
      this.#onProgress?.({ ...this.progress });
    }
    if (lists.length === 0 && ids.length <= MAX_INLINE_CHUNKS && (options.inline ?? true)) {
      return { chunks: ids, size };
    }
    if (ids.length > 0) lists.push(await this.#storeList(ids));
    return { lists, size };
  }

  /**
   * Stores a tree plaintext as a `tree` blob (zstd when it shrinks); returns its id, the HMAC
   * chunk id of the plaintext. Identical trees are stored once.
   */
  async storeTree(plaintext: Buffer): Promise<string> {
    const id = chunkId(this.#ctx.keys.chunkId, plaintext);
    if (this.#known(id, 'tree')) return id;
    const { parts } = await this.#ctx.pool.sealParts(plaintext, 'tree');
    await this.#place({ id, sealed: parts });
    return id;
  }

  /** Places every blob still compressing, then writes the last pack. */
  async finish(): Promise<void> {
    while (this.#window.length > 0) {
      await this.#place(await (this.#window.shift() as Promise<SealedBlob>));
    }
    await this.#flushPack();
  }

  /** After a failure: waits for work in flight so nothing runs on after the caller returns. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#window.splice(0));
  }

  async #storeList(ids: readonly string[]): Promise<string> {
    const plaintext = encodeContentList(ids);
    const id = chunkId(this.#ctx.keys.chunkId, plaintext);
    if (this.#known(id, 'tree')) return id;
    const sealed = sealBlob(
      this.#ctx.keys.encryption,
      { type: 'tree', compressed: false },
      plaintext,
    );
    await this.#place({ id, sealed });
    return id;
  }

  #known(id: string, type: BlobType): boolean {
    return (
      this.#ctx.index.has(id, type) ||
      this.#writer.has(id, type) ||
      (type === 'data' && this.#inFlight.has(id))
    );
  }

  async #place(blob: SealedBlob): Promise<void> {
    this.#writer.add(blob.id, blob.sealed);
    this.#inFlight.delete(blob.id);
    if (this.#writer.full) await this.#flushPack();
  }

  async #flushPack(): Promise<void> {
    if (this.#writer.count === 0) return;
    const pack = this.#writer.finish();
    await writePack(this.#ctx.backend, pack);
    this.progress.bytesStored += pack.size;
    for (const entry of pack.entries) this.#ctx.index.add(pack.id, entry);
    this.#ctx.onPackWritten({ pack: pack.id, entries: pack.entries });
  }
}
