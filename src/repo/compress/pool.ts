import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { ShipError } from '../../core/index.js';
import {
  BLOB_FLAGS,
  BLOB_FORMAT_VERSION,
  BLOB_HEADER_BYTES,
  BLOB_MAGIC,
  BLOB_NONCE_BYTES,
  BLOB_TAG_BYTES,
  BLOB_TYPES,
  type BlobType,
} from '../crypto/index.js';

import { workerSource } from './worker-source.js';
import {
  DEFAULT_COMPRESSION_LEVEL,
  MIN_COMPRESS_BYTES,
  checkCompressionLevel,
  checkExpectedLength,
  corruptFrame,
  zstdBindingPath,
  type CompressResult,
  type DecompressOptions,
} from './zstd.js';

/** Most workers a pool starts by default, whatever the core count. */
export const MAX_DEFAULT_WORKERS = 8;

/** Options for {@link CompressPool}. */
export interface CompressPoolOptions {
  /** Worker threads. @default min(os.availableParallelism(), 8) */
  workers?: number;
  /** zstd level for `compress`. @default 3 */
  level?: number;
  /**
   * Jobs that may wait for a free worker; when that many wait, `compress`/`decompress`
   * themselves wait (back-pressure), so a fast reader cannot queue unbounded memory.
   * @default 2 × workers
   */
  maxQueued?: number;
  /** Cap on one decompressed payload. @default DEFAULT_MAX_DECOMPRESSED_BYTES (256 MiB) */
  maxDecompressedBytes?: number;
  /**
   * Keys for {@link CompressPool.seal}: handed to each worker once, when it starts (in
   * `workerData`), never with a job. Without them `seal` throws.
   */
  sealKeys?: SealKeys;
}

/** The sub-keys a pool's workers need to id and seal blobs. */
export interface SealKeys {
  /** AES-256-GCM key (32 bytes). */
  readonly encryption: Uint8Array;
  /** HMAC-SHA-256 chunk-id key (32 bytes). */
  readonly chunkId: Uint8Array;
}

/** A blob sealed by a worker: `sealBlob`'s exact output, and the plaintext's chunk id if asked. */
export interface SealedResult {
  sealed: Buffer;
  /** HMAC-SHA-256 hex of the plaintext (only when `withId` was set). */
  id: string | undefined;
}

/**
 * A blob sealed by a worker, as the three pieces it came back in: header and nonce, ciphertext,
 * GCM tag. Their concatenation is `sealBlob`'s exact output; `PackWriter.add` takes them as
 * they are, so the blob is never joined (one 1 MiB allocation and copy less per chunk).
 */
export interface SealedParts {
  parts: readonly [head: Buffer, body: Buffer, tag: Buffer];
  /** Total bytes of the sealed blob. */
  length: number;
  /** HMAC-SHA-256 hex of the plaintext (only when `withId` was set). */
  id: string | undefined;
}

type JobRequest =
  | { op: 'compress'; data: Uint8Array; level: number }
  | { op: 'decompress'; data: Uint8Array; expectedLength: number }
  | { op: 'seal'; data: Uint8Array; level: number; blobType: number; withId: boolean };

interface JobResult {
  data: Uint8Array | null;
  /** `seal` only: header and nonce, and the tag, that go around `data`. */
  head: Uint8Array | undefined;
  tag: Uint8Array | undefined;
  chunkId: string | undefined;
}

interface Job {
  id: number;
  request: JobRequest;
  resolve: (result: JobResult) => void;
  reject: (error: Error) => void;
  /** Builds the error for a frame the worker found corrupt. */
  corrupt: (message: string) => Error;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

type WorkerReply =
  | {
      id: number;
      ok: true;
      data: Uint8Array | null;
      input: ArrayBuffer;
      /** `seal` only: the blob's header and nonce, and its GCM tag, to join around `data`. */
      head?: Uint8Array;
      tag?: Uint8Array;
      chunkId?: string;
    }
  | { id: number; ok: false; kind: 'corrupt' | 'internal'; message: string };

/**
 * zstd on a pool of worker threads, so compression (≈170 MB/s per core at level 1 on poorly
 * compressible data) runs on every core instead of the event loop.
 *
 * - Bounded: at most `workers` jobs run and `maxQueued` wait; further calls await a place.
 * - Idle workers are `unref`ed: an idle pool never keeps the process alive, and busy workers
 *   do, so pending work is not cut short by the event loop emptying.
 * - `close()` stops the workers; jobs not finished yet reject.
 *
 * @example
 * const pool = new CompressPool({ level: 3 });
 * const { data, compressed } = await pool.compress(chunk);
 * await pool.close();
 */
export class CompressPool {
  /** Number of worker threads (started lazily, on demand). */
  readonly size: number;
  readonly level: number;
  readonly maxQueued: number;
  readonly maxDecompressedBytes: number | undefined;

  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  /**
   * Input buffers the workers handed back, reused for the next jobs' copies: allocating a
   * fresh 1 MiB buffer per job costs page faults. At most one per admitted job is kept.
   */
  readonly #spare: ArrayBuffer[] = [];
  /** Callers waiting for room in the bounded queue, oldest first. */
  readonly #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Jobs admitted: running plus queued. */
  #admitted = 0;
  #nextId = 1;
  #closed = false;
  readonly #source: string;
  readonly #sealKeys: SealKeys | undefined;

  constructor(options: CompressPoolOptions = {}) {
    this.size = options.workers ?? Math.min(availableParallelism(), MAX_DEFAULT_WORKERS);
    if (!Number.isInteger(this.size) || this.size < 1) {
      throw ShipError.usage(
        'SHIP_REPO_BAD_WORKERS',
        `compression workers must be a positive integer, got ${this.size}`,
        { hint: 'pass a worker count of 1 or more' },
      );
    }
    this.level = checkCompressionLevel(options.level ?? DEFAULT_COMPRESSION_LEVEL);
    this.maxQueued = options.maxQueued ?? 2 * this.size;
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) {
      throw new Error(`maxQueued must be a non-negative integer, got ${this.maxQueued}`);
    }
    this.maxDecompressedBytes = options.maxDecompressedBytes;
    this.#sealKeys = options.sealKeys;
    this.#source = workerSource(zstdBindingPath, {
      magic: BLOB_MAGIC,
      version: BLOB_FORMAT_VERSION,
      compressedFlag: BLOB_FLAGS.compressed,
      headerBytes: BLOB_HEADER_BYTES,
      nonceBytes: BLOB_NONCE_BYTES,
      tagBytes: BLOB_TAG_BYTES,
      minCompress: MIN_COMPRESS_BYTES,
    });
  }

  /** Jobs running or waiting for a worker. */
  get pending(): number {
    return this.#admitted;
  }

  /**
   * Compresses `data` at the pool's level. Returns the input itself with `compressed: false`
   * when the zstd frame would not be strictly smaller. `data` is copied, never detached.
   */
  async compress(data: Uint8Array): Promise<CompressResult> {
    const input = Buffer.isBuffer(data)
      ? data
      : Buffer.from(data.buffer, data.byteOffset, data.length);
    if (input.length < MIN_COMPRESS_BYTES) {
      this.#assertOpen();
      return { data: input, compressed: false };
    }
    const { data: out } = await this.#run(
      { op: 'compress', data: input, level: this.level },
      () =>
        // Unreachable: the worker never reports a compress job as corrupt.
        new Error('compress job reported a corrupt frame'),
    );
    return out === null
      ? { data: input, compressed: false }
      : { data: toBuffer(out), compressed: true };
  }

  /**
   * Seals `data` as a blob of `type` on a worker: zstd at the pool's level when the frame is
   * strictly smaller (and the input at least `MIN_COMPRESS_BYTES`), then AES-256-GCM with the
   * header as associated data: byte for byte the format of `sealBlob`, with a fresh nonce.
   * With `withId`, the worker also computes the plaintext's chunk id (HMAC-SHA-256), so the
   * caller's thread does neither hash nor cipher. Needs `sealKeys`; `data` is copied before
   * `seal` returns, so the caller may reuse its buffer at once.
   */
  async seal(
    data: Uint8Array,
    type: BlobType,
    options: { withId?: boolean } = {},
  ): Promise<SealedResult> {
    const { parts, length, id } = await this.sealParts(data, type, options);
    return { sealed: Buffer.concat(parts, length), id };
  }

  /**
   * {@link seal}, returning the blob as its three pieces instead of one joined buffer (see
   * {@link SealedParts}): what a backup hands to its `PackWriter`.
   */
  sealParts(
    data: Uint8Array,
    type: BlobType,
    options: { withId?: boolean } = {},
  ): Promise<SealedParts> {
    if (this.#sealKeys === undefined) {
      return Promise.reject(new Error('this compression pool was created without sealKeys'));
    }
    return this.#run(
      {
        op: 'seal',
        data,
        level: this.level,
        blobType: BLOB_TYPES[type],
        withId: options.withId ?? false,
      },
      () => new Error('seal job reported a corrupt frame'),
    ).then(({ data: body, head, tag, chunkId }) => {
      if (body === null || head === undefined || tag === undefined) {
        throw new Error('seal job returned no data');
      }
      return {
        parts: [toBuffer(head), toBuffer(body), toBuffer(tag)],
        length: head.length + body.length + tag.length,
        id: chunkId,
      };
    });
  }

  /**
   * Decompresses a zstd payload into exactly `expectedLength` bytes (from the authenticated
   * blob header; the frame's own size field is never used to allocate). Throws
   * `SHIP_REPO_CORRUPT` when the frame is damaged or decodes to another length, or when
   * `expectedLength` exceeds the cap.
   */
  async decompress(
    data: Uint8Array,
    expectedLength: number,
    options: DecompressOptions = {},
  ): Promise<Buffer> {
    const what = options.what ?? 'compressed payload';
    checkExpectedLength(what, expectedLength, options.maxBytes ?? this.maxDecompressedBytes);
    const { data: out } = await this.#run({ op: 'decompress', data, expectedLength }, (message) =>
      corruptFrame(what, expectedLength, new Error(message)),
    );
    if (out === null) throw new Error('decompress job returned no data');
    return toBuffer(out);
  }

  /**
   * Stops every worker. Jobs still queued or running reject; later calls throw. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = closedError();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    for (const job of this.#queue.splice(0)) job.reject(error);
    this.#spare.splice(0);
    const slots = this.#slots.splice(0);
    for (const slot of slots) {
      slot.job?.reject(error);
      slot.job = undefined;
    }
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /**
   * Runs a job on a worker. The input is copied synchronously, before the first `await`, so
   * callers (a chunker that reuses its buffer) may overwrite theirs as soon as this returns.
   */
  #run(request: JobRequest, corrupt: (message: string) => Error): Promise<JobResult> {
    if (this.#closed) return Promise.reject(closedError());
    // The worker gets a copy in a buffer of the pool's own, transferred: cloning the caller's
    // view would copy its whole backing ArrayBuffer (a 16 MiB read buffer for a 1 MiB chunk),
    // and transferring the caller's buffer would detach it.
    return this.#runCopied({ ...request, data: this.#copy(request.data) }, corrupt);
  }

  /** {@link #run} once the input is the pool's own copy: waits for a place, then queues. */
  async #runCopied(request: JobRequest, corrupt: (message: string) => Error): Promise<JobResult> {
    await this.#admit();
    if (this.#closed) {
      // Admitted by a job that finished just before close(): give the place back and stop.
      this.#release();
      throw closedError();
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        request,
        resolve: (result) => {
          this.#release();
          resolve(result);
        },
        reject: (error) => {
          this.#release();
          reject(error);
        },
        corrupt,
      };
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  #copy(data: Uint8Array): Uint8Array {
    const index = this.#spare.findIndex((buffer) => buffer.byteLength >= data.length);
    const spare = index === -1 ? undefined : this.#spare.splice(index, 1)[0];
    const copy = new Uint8Array(spare ?? new ArrayBuffer(data.length), 0, data.length);
    copy.set(data);
    return copy;
  }

  #keepSpare(buffer: ArrayBuffer): void {
    if (this.#closed) return;
    this.#spare.push(buffer);
    if (this.#spare.length > this.size + this.maxQueued) this.#spare.shift();
  }

  /** Waits for room: at most `size + maxQueued` jobs are admitted at once. */
  #admit(): Promise<void> {
    if (this.#admitted < this.size + this.maxQueued) {
      this.#admitted++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  #release(): void {
    const next = this.#waiters.shift();
    // The freed place passes straight to the oldest waiter, so `#admitted` is unchanged.
    if (next) next.resolve();
    else this.#admitted--;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((candidate) => candidate.job === undefined);
      if (!slot) {
        if (this.#slots.length >= this.size) return;
        slot = this.#spawn();
      }
      const job = this.#queue.shift();
      if (!job) return;
      slot.job = job;
      slot.worker.ref();
      const transfer = [job.request.data.buffer as ArrayBuffer];
      slot.worker.postMessage({ id: job.id, ...job.request }, transfer);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(this.#source, {
      eval: true,
      ...(this.#sealKeys === undefined
        ? {}
        : {
            workerData: {
              keys: {
                encryption: Uint8Array.from(this.#sealKeys.encryption),
                chunkId: Uint8Array.from(this.#sealKeys.chunkId),
              },
            },
          }),
    });
    const slot: Slot = { worker, job: undefined };
    this.#slots.push(slot);
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      if (job?.id !== reply.id) return;
      slot.job = undefined;
      worker.unref();
      if (reply.ok) {
        this.#keepSpare(reply.input);
        job.resolve({
          data: reply.data,
          head: reply.head,
          tag: reply.tag,
          chunkId: reply.chunkId,
        });
      } else if (reply.kind === 'corrupt') job.reject(job.corrupt(reply.message));
      else job.reject(new Error(`compression worker failed: ${reply.message}`));
      this.#dispatch();
    });
    const lost = (error: Error) => {
      const index = this.#slots.indexOf(slot);
      if (index === -1) return;
      this.#slots.splice(index, 1);
      const job = slot.job;
      slot.job = undefined;
      job?.reject(error);
      // A replacement starts on demand for the jobs still queued.
      if (!this.#closed) this.#dispatch();
    };
    worker.on('error', (error) => {
      lost(error);
    });
    worker.on('exit', (code) => {
      lost(new Error(`compression worker exited with code ${code}`));
    });
    return slot;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): Error {
  return new Error('the compression pool is closed');
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.length);
}
