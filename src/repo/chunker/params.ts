import { ShipError } from '../../core/index.js';

/** Chunk size bounds, in bytes. Every chunk but the last of a stream is within [minSize, maxSize]. */
export interface ChunkerParams {
  /** No cut point is looked for before this many bytes. @default 524288 (512 KiB) */
  readonly minSize: number;
  /** Target (normal) size; a power of two. @default 1048576 (1 MiB) */
  readonly avgSize: number;
  /** A chunk is cut here when no cut point was found earlier. @default 8388608 (8 MiB) */
  readonly maxSize: number;
}

/** The repository defaults: min 512 KiB, avg 1 MiB, max 8 MiB. */
export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = Object.freeze({
  minSize: 512 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 8 * 1024 * 1024,
});

/** Smallest accepted minSize: below the 32-byte hash window, cut points stop depending on content. */
export const MIN_CHUNK_SIZE_FLOOR = 64;
/** Largest accepted maxSize (1 GiB): a chunk must fit a blob (< 4 GiB) and a Buffer comfortably. */
export const MAX_CHUNK_SIZE_CEILING = 1024 * 1024 * 1024;

/**
 * Normalization level 2 of the FastCDC paper: before avgSize the mask has two more bits than
 * log2(avgSize) (cuts are 4× less likely), after it two fewer (4× more likely).
 */
const NORMALIZATION = 2;

/** The two FastCDC masks, as int32 values (the hot loop works in int32 arithmetic). */
export interface ChunkerMasks {
  /** Mask used between minSize and avgSize (harder to match). */
  readonly small: number;
  /** Mask used between avgSize and maxSize (easier to match). */
  readonly large: number;
}

/**
 * Checks chunk size bounds: integers, `MIN_CHUNK_SIZE_FLOOR <= minSize < avgSize < maxSize <=
 * MAX_CHUNK_SIZE_CEILING`, avgSize a power of two. Returns the params unchanged (frozen copy).
 *
 * @throws ShipError `SHIP_REPO_CHUNKER_PARAMS` (exit 2) naming the bad field.
 */
export function validateChunkerParams(params: ChunkerParams): ChunkerParams {
  const { minSize, avgSize, maxSize } = params;
  const fail = (message: string): never => {
    throw ShipError.usage('SHIP_REPO_CHUNKER_PARAMS', `Invalid chunker parameters: ${message}.`, {
      details: { minSize, avgSize, maxSize },
      hint: 'use minSize < avgSize < maxSize with avgSize a power of two, e.g. 512 KiB / 1 MiB / 8 MiB',
    });
  };
  for (const [field, value] of Object.entries({ minSize, avgSize, maxSize })) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      fail(`${field} must be a positive integer number of bytes, got ${String(value)}`);
    }
  }
  if (minSize < MIN_CHUNK_SIZE_FLOOR)
    fail(`minSize must be at least ${MIN_CHUNK_SIZE_FLOOR}, got ${minSize}`);
  if (maxSize > MAX_CHUNK_SIZE_CEILING) {
    fail(`maxSize must be at most ${MAX_CHUNK_SIZE_CEILING}, got ${maxSize}`);
  }
  if ((avgSize & (avgSize - 1)) !== 0) fail(`avgSize must be a power of two, got ${avgSize}`);
  if (!(minSize < avgSize)) fail(`minSize (${minSize}) must be smaller than avgSize (${avgSize})`);
  if (!(avgSize < maxSize)) fail(`avgSize (${avgSize}) must be smaller than maxSize (${maxSize})`);
  return Object.freeze({ minSize, avgSize, maxSize });
}

/**
 * The masks for an average size of 2^bits: the top `bits + 2` bits of the 32-bit gear hash for
 * the small mask, the top `bits - 2` for the large one. Top bits because in a gear hash bit k
 * depends on the last k + 1 bytes only, so the high bits see the widest window (32 bytes).
 */
export function chunkerMasks(params: ChunkerParams): ChunkerMasks {
  const bits = Math.log2(params.avgSize);
  const ones = (n: number): number => (n >= 32 ? -1 : ~((1 << (32 - n)) - 1) | 0);
  return {
    small: ones(Math.min(32, bits + NORMALIZATION)),
    large: ones(Math.max(1, bits - NORMALIZATION)),
  };
}
