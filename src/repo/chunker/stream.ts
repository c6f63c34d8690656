import { cut } from './fastcdc.js';
import { gearTable } from './gear.js';
import { validateChunkerParams, type ChunkerParams } from './params.js';

const INITIAL_CAPACITY = 64 * 1024;

/** Options for {@link chunkStream}. */
export interface ChunkStreamOptions {
  /**
   * Reuse the work buffer once it is full: the unchunked tail moves to its front instead of to
   * a fresh buffer. Then a yielded chunk is valid only until the next chunk is asked for (the
   * consumer must copy what it keeps), and a whole stream allocates one work buffer instead of
   * one per `2 × maxSize` bytes (garbage collection and page faults). @default false
   */
  reuseBuffer?: boolean;
}

/**
 * Splits a byte stream into content-defined chunks (FastCDC, see `cut`), keyed by the 32-byte
 * chunker key. The chunks concatenate to exactly the input; all but the last are within
 * `[minSize, maxSize]`; an empty stream yields nothing.
 *
 * Memory: the generator fills one work buffer of at most `2 × maxSize` (16 MiB at defaults;
 * it starts at 64 KiB and doubles, so small inputs stay small). Input
 * buffers are copied in and never retained, so the source may reuse its buffer once the next one
 * is asked for. Yielded chunks are views into a work buffer that the generator never writes
 * again (when one is full, the unchunked tail, < maxSize, moves to a fresh one), so the
 * consumer owns them without a copy; a consumer that holds chunks keeps their work buffer alive.
 * With `reuseBuffer` the work buffer is overwritten instead, and a chunk is only valid until the
 * next one is asked for.
 *
 * @throws ShipError `SHIP_REPO_CHUNKER_PARAMS` / `SHIP_REPO_CHUNKER_KEY` on bad params or key
 *   (on the first iteration); errors of the source propagate unchanged.
 * @example
 * for await (const chunk of chunkStream(createReadStream(path), DEFAULT_CHUNKER_PARAMS, key)) {
 *   store(chunk);
 * }
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  params: ChunkerParams,
  key: Uint8Array,
  options: ChunkStreamOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const reuse = options.reuseBuffer ?? false;
  const checked = validateChunkerParams(params);
  const table = gearTable(key);
  const { maxSize } = checked;
  const fullCapacity = 2 * maxSize;
  // Invariant after each input slice: fill - start < maxSize, so a fresh buffer always has room.
  let work = Buffer.allocUnsafeSlow(Math.min(fullCapacity, INITIAL_CAPACITY));
  let start = 0;
  let fill = 0;
  for await (const input of source) {
    if (!(input instanceof Uint8Array)) {
      throw new TypeError(`chunkStream expects Uint8Array items, got ${typeof input}`);
    }
    let offset = 0;
    while (offset < input.length) {
      if (fill === work.length) {
        if (reuse && work.length === fullCapacity) {
          // The consumer is done with every chunk yielded so far: keep the buffer.
          work.copyWithin(0, start, fill);
        } else {
          // Never overwrite bytes already yielded: the consumer may still hold them.
          const next = Buffer.allocUnsafeSlow(Math.min(fullCapacity, 2 * work.length));
          work.copy(next, 0, start, fill);
          work = next;
        }
        fill -= start;
        start = 0;
      }
      const n = Math.min(input.length - offset, work.length - fill);
      work.set(input.subarray(offset, offset + n), fill);
      fill += n;
      offset += n;
      while (fill - start >= maxSize) {
        const length = cut(work.subarray(start, fill), checked, table);
        yield work.subarray(start, start + length);
        start += length;
      }
    }
  }
  while (start < fill) {
    const length = cut(work.subarray(start, fill), checked, table);
    yield work.subarray(start, start + length);
    start += length;
  }
}
