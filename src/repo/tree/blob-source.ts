import { ExitCode, isShipError } from '../../core/index.js';
import { FileType } from '../backend/index.js';
import { chunkId, openBlob, repoCorrupt, type BlobType } from '../crypto/index.js';
import { decodeContentList } from '../format/index.js';

import type { BlobContext } from './blob-sink.js';
import { MAX_TREE_BYTES, decodeTree, type Tree } from './format.js';

/**
 * The read side of a restore: looks a blob up in the master index, range-reads exactly its
 * bytes, authenticates it (type included), checks the length against the index, decompresses
 * and recomputes the id. Any failure is `SHIP_REPO_CORRUPT` naming `where` and the blob.
 */
export class BlobSource {
  readonly #ctx: Pick<BlobContext, 'backend' | 'keys' | 'index' | 'pool'>;

  constructor(ctx: Pick<BlobContext, 'backend' | 'keys' | 'index' | 'pool'>) {
    this.#ctx = ctx;
  }

  /** How many chunk reads to keep in flight. */
  get readAhead(): number {
    return Math.max(2, this.#ctx.pool.size * 2);
  }

  /** Reads and verifies one blob; returns its plaintext (decompressed). */
  async read(id: string, type: BlobType, where: string): Promise<Buffer> {
    const label = `${where}, ${type === 'data' ? 'chunk' : 'tree blob'} ${id}`;
    const entry = this.#ctx.index.get(id, type);
    if (entry === undefined) {
      throw repoCorrupt(label, 'is not in the index (its pack is missing or not indexed)', {
        hint: 'run `shipshape repo check`; if packs exist that the index misses, rebuild the index',
      });
    }
    const what = `${label} (pack ${entry.pack} at ${entry.offset})`;
    let sealed: Buffer;
    try {
      sealed = await this.#ctx.backend.get(FileType.data, entry.pack, {
        offset: entry.offset,
        length: entry.length,
      });
    } catch (error) {
      if (isShipError(error) && error.exitCode === ExitCode.repoCorrupt) {
        throw repoCorrupt(what, error.message, { cause: error });
      }
      throw error;
    }
    const { header, plaintext } = openBlob(this.#ctx.keys.encryption, sealed, type, { what });
    if (header.length !== entry.plaintextLength) {
      throw repoCorrupt(what, `is ${header.length} bytes, the index says ${entry.plaintextLength}`);
    }
    if (type === 'tree' && header.length > MAX_TREE_BYTES) {
      throw repoCorrupt(what, `is ${header.length} bytes, more than a tree may hold`);
    }
    const data = header.compressed
      ? await this.#ctx.pool.decompress(plaintext, header.length, { what })
      : plaintext;
    if (chunkId(this.#ctx.keys.chunkId, data) !== id) {
      throw repoCorrupt(what, 'content does not match its id');
    }
    return data;
  }

  /** Reads and decodes one directory tree. */
  async readTree(id: string, where: string): Promise<Tree> {
    return decodeTree(await this.read(id, 'tree', where), `${where}, tree ${id}`);
  }

  /** Reads one content list: the chunk ids it holds, in order. */
  async readList(id: string, where: string): Promise<string[]> {
    return decodeContentList(await this.read(id, 'tree', where), `${where}, content list ${id}`);
  }

  /**
   * The verified chunks of a file, in order, reading ahead a bounded window. Pass the inline
   * `chunks` or the content `lists` of a file entry.
   */
  async *chunks(
    content: { chunks?: string[]; lists?: string[] },
    where: string,
  ): AsyncGenerator<Buffer, void, undefined> {
    const groups: (() => Promise<string[]>)[] =
      content.chunks !== undefined
        ? [() => Promise.resolve(content.chunks ?? [])]
        : (content.lists ?? []).map((list) => () => this.readList(list, where));
    for (const group of groups) {
      const ids = await group();
      const window: Promise<Buffer>[] = [];
      let next = 0;
      const fill = () => {
        while (window.length < this.readAhead && next < ids.length) {
          const task = this.read(ids[next++] ?? '', 'data', where);
          task.catch(() => undefined);
          window.push(task);
        }
      };
      try {
        fill();
        while (window.length > 0) {
          const data = await (window.shift() as Promise<Buffer>);
          fill();
          yield data;
        }
      } finally {
        await Promise.allSettled(window);
      }
    }
  }
}
