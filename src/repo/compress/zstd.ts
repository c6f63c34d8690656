import { createRequire } from 'node:module';

import type * as ZstdBinding from 'zstd-napi/binding.js';

import { ShipError } from '../../core/index.js';
import { repoCorrupt } from '../crypto/index.js';

// zstd-napi's low-level binding lets us size every output buffer ourselves: its high-level
// `decompress` allocates from the frame header, which a hostile frame controls.
const require = createRequire(import.meta.url);

/** Absolute path of the zstd-napi binding, for worker threads to `require`. */
export const zstdBindingPath: string = require.resolve('zstd-napi/binding');

let loaded: typeof ZstdBinding | undefined;
function binding(): typeof ZstdBinding {
  loaded ??= require(zstdBindingPath) as typeof ZstdBinding;
  return loaded;
}

/** Default zstd level: zstd's own default, a good speed/ratio balance for dumps. */
export const DEFAULT_COMPRESSION_LEVEL = 3;
/**
 * Inputs shorter than this are stored as they are: a zstd frame's fixed overhead leaves
 * nothing to gain, and a worker round trip costs more than the bytes.
 */
export const MIN_COMPRESS_BYTES = 64;
/**
 * Default cap on one decompressed payload. Chunks are at most a few MiB and metadata blobs
 * stay well below this; anything larger is refused rather than allocated.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

/** The outcome of compressing: the bytes to store and whether they are a zstd frame. */
export interface CompressResult {
  data: Buffer;
  compressed: boolean;
}

/** Options for decompression. */
export interface DecompressOptions {
  /** Names what is being read in errors, e.g. `data blob 3f2a…`. */
  what?: string;
  /** Refuse `expectedLength` above this. @default DEFAULT_MAX_DECOMPRESSED_BYTES */
  maxBytes?: number;
}

/**
 * Checks a zstd level (an integer zstd accepts; negative levels are zstd's fast modes).
 * Throws `SHIP_REPO_BAD_COMPRESSION_LEVEL` (exit 2) otherwise.
 */
export function checkCompressionLevel(level: number): number {
  const min = binding().minCLevel();
  const max = binding().maxCLevel();
  if (!Number.isInteger(level) || level < min || level > max || level === 0) {
    throw ShipError.usage(
      'SHIP_REPO_BAD_COMPRESSION_LEVEL',
      `compression level ${level} is not valid`,
      { hint: `use an integer from 1 (fastest) to ${max} (smallest); 3 is the default` },
    );
  }
  return level;
}

let cctx: ZstdBinding.CCtx | undefined;
let dctx: ZstdBinding.DCtx | undefined;
let scratch = Buffer.alloc(0);

/**
 * Compresses on the calling thread. Returns the input itself, `compressed: false`, when the
 * frame would not be strictly smaller than the input. Prefer a {@link CompressPool} for
 * chunk data; this suits small metadata blobs where a worker hop costs more than it saves.
 */
export function compressSync(data: Uint8Array, level = DEFAULT_COMPRESSION_LEVEL): CompressResult {
  checkCompressionLevel(level);
  const input = asBuffer(data);
  if (input.length < MIN_COMPRESS_BYTES) return { data: input, compressed: false };
  cctx ??= new (binding().CCtx)();
  // Capacity one byte short of the input: zstd reports "too small" exactly when the frame
  // would not shrink the data, so the incompressible case never allocates a compressBound.
  // The scratch buffer is reused (a fresh large allocation per call costs page faults); the
  // result is copied out at its exact size.
  const capacity = input.length - 1;
  if (scratch.length < capacity) scratch = Buffer.allocUnsafeSlow(capacity);
  try {
    const written = cctx.compress(scratch.subarray(0, capacity), input, level);
    return { data: Buffer.from(scratch.subarray(0, written)), compressed: true };
  } catch (error) {
    if (isDstTooSmall(error)) return { data: input, compressed: false };
    throw error;
  }
}

/**
 * Decompresses on the calling thread into exactly `expectedLength` bytes (taken from the
 * authenticated blob header, never from the frame). Throws `SHIP_REPO_CORRUPT` when the
 * frame is damaged, decodes to another length, or `expectedLength` exceeds the cap.
 */
export function decompressSync(
  data: Uint8Array,
  expectedLength: number,
  options: DecompressOptions = {},
): Buffer {
  const what = options.what ?? 'compressed payload';
  checkExpectedLength(what, expectedLength, options.maxBytes);
  dctx ??= new (binding().DCtx)();
  const out = Buffer.allocUnsafe(expectedLength);
  let written: number;
  try {
    written = dctx.decompress(out, data);
  } catch (error) {
    throw corruptFrame(what, expectedLength, error);
  }
  if (written !== expectedLength) {
    throw repoCorrupt(what, `decompressed to ${written} bytes, expected ${expectedLength}`);
  }
  return out;
}

/** Refuses an expected length that is not a sane allocation size. */
export function checkExpectedLength(what: string, expectedLength: number, maxBytes?: number): void {
  const cap = maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  if (!Number.isInteger(expectedLength) || expectedLength < 0) {
    throw repoCorrupt(what, `invalid decompressed length ${expectedLength}`);
  }
  if (expectedLength > cap) {
    throw repoCorrupt(
      what,
      `declares ${expectedLength} decompressed bytes, over the ${cap}-byte limit for one payload`,
    );
  }
}

/** The error for a frame zstd refused: damaged, truncated, or larger than declared. */
export function corruptFrame(what: string, expectedLength: number, cause: unknown): ShipError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const problem = /too small/i.test(reason)
    ? `decompresses to more than the declared ${expectedLength} bytes`
    : `zstd frame is damaged (${reason})`;
  return repoCorrupt(what, problem, { cause });
}

function isDstTooSmall(error: unknown): boolean {
  return error instanceof Error && /too small/i.test(error.message);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}
