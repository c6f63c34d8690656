import type { GearTable } from './gear.js';
import { chunkerMasks, type ChunkerParams } from './params.js';

/**
 * FastCDC (Xia et al., USENIX ATC 2016, normalized chunking level 2) over a 32-bit gear hash:
 * the length of the first chunk of `data`.
 *
 * `data` must be either at least `params.maxSize` bytes long or the end of the stream: with
 * fewer bytes the answer could change once more data arrives. The result is in
 * `[min(data.length, minSize + 1), min(data.length, maxSize)]`, or `data.length` when that is
 * at most `minSize` (the final chunk). Params are trusted here; validate them once with
 * `validateChunkerParams` (the streaming API does).
 *
 * Hashing starts at `minSize` with hash 0 (cut-point skipping: bytes before minSize never
 * influence the cut). A cut is placed after byte i when `(hash & mask) === 0`, using the small
 * mask while i < avgSize and the large mask after.
 *
 * @example
 * const n = cut(buffer, DEFAULT_CHUNKER_PARAMS, gearTable(key)); // first chunk = buffer[0, n)
 */
export function cut(data: Uint8Array, params: ChunkerParams, table: GearTable): number {
  const { minSize, avgSize, maxSize } = params;
  let end = data.length;
  if (end <= minSize) return end;
  if (end > maxSize) end = maxSize;
  const normal = end < avgSize ? end : avgSize;
  const { small, large } = chunkerMasks(params);
  let hash = 0;
  let i = minSize;
  // The hot loop: int32 arithmetic only. A Uint32Array read at a byte index (0..255) of a
  // 256-entry table is never out of range, so `| 0` stands in for a non-null assertion.
  for (; i < normal; i++) {
    hash = ((hash << 1) + (table[data[i] as number] as number)) | 0;
    if ((hash & small) === 0) return i + 1;
  }
  for (; i < end; i++) {
    hash = ((hash << 1) + (table[data[i] as number] as number)) | 0;
    if ((hash & large) === 0) return i + 1;
  }
  return end;
}
