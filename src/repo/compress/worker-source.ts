/**
 * The code each compression worker runs, as a CommonJS script for `new Worker(…, { eval: true })`.
 * A string rather than a file so the same pool works from TypeScript sources (tests, tsx) and
 * from the compiled package without a loader or a copy step.
 *
 * Protocol (the pool is its only peer):
 * - in:  `{ id, op: 'compress', data: Uint8Array, level }` →
 *        `{ id, ok: true, data: Uint8Array | null, input: ArrayBuffer }` (`data` null: the frame
 *        would not be smaller than the input; `input`: the job's input buffer, handed back)
 * - in:  `{ id, op: 'decompress', data, expectedLength }` → `{ id, ok: true, data, input }`,
 *        `data` of exactly expectedLength bytes, or `{ id, ok: false, kind: 'corrupt', message }`
 * - in:  `{ id, op: 'seal', data, level, blobType, withId }` → `{ id, ok: true, head, data, tag,
 *        input, chunkId }`: `head || data || tag` is the sealed blob exactly as `sealBlob`
 *        makes it (`head` = header and nonce, `data` the ciphertext; zstd when the
 *        frame is strictly smaller and the input at least `minCompress` bytes, then AES-256-GCM
 *        with the 8-byte header as associated data); `chunkId` the HMAC-SHA-256 hex of the
 *        plaintext when `withId`. The keys come once, in `workerData.keys`, never with a job.
 * - any other failure → `{ id, ok: false, kind: 'internal', message }`
 * Output buffers are exact-size and transferred, not copied.
 */
export function workerSource(bindingPath: string, blob: WorkerBlobConstants): string {
  return `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, createHmac, randomBytes } = require('node:crypto');
const binding = require(${JSON.stringify(bindingPath)});
const keys = workerData && workerData.keys ? workerData.keys : undefined;
const BLOB = ${JSON.stringify(blob)};
const cctx = new binding.CCtx();
const dctx = new binding.DCtx();
const tooSmall = (error) => error instanceof Error && /too small/i.test(error.message);
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

// One scratch output buffer per worker, grown as needed: a fresh 1 MiB allocation per job
// costs page faults (glibc maps large blocks anew) that showed up as ~30 % of the CPU time.
let scratch = new Uint8Array(0);

function compress(job) {
  const src = job.data;
  const capacity = src.length - 1;
  if (scratch.length < capacity) scratch = new Uint8Array(capacity);
  const dst = scratch.subarray(0, capacity);
  let written;
  try {
    written = cctx.compress(dst, src, job.level);
  } catch (error) {
    if (tooSmall(error)) return reply(job, null);
    throw error;
  }
  reply(job, scratch.slice(0, written));
}

// The input's buffer goes back with the reply, so the pool can reuse it for the next job.
function reply(job, data) {
  const transfer = [job.data.buffer];
  if (data) transfer.push(data.buffer);
  parentPort.postMessage({ id: job.id, ok: true, data, input: job.data.buffer }, transfer);
}

function seal(job) {
  if (!keys) throw new Error('this pool was started without sealing keys');
  const src = job.data;
  const chunkId = job.withId ? createHmac('sha256', keys.chunkId).update(src).digest('hex') : undefined;
  let payload = src;
  let compressed = false;
  if (src.length >= BLOB.minCompress) {
    const capacity = src.length - 1;
    if (scratch.length < capacity) scratch = new Uint8Array(capacity);
    try {
      payload = scratch.subarray(0, cctx.compress(scratch.subarray(0, capacity), src, job.level));
      compressed = true;
    } catch (error) {
      if (!tooSmall(error)) throw error;
    }
  }
  const header = Buffer.alloc(BLOB.headerBytes);
  header[0] = BLOB.magic;
  header[1] = BLOB.version;
  header[2] = job.blobType;
  header[3] = compressed ? BLOB.compressedFlag : 0;
  header.writeUInt32BE(src.length, 4);
  const nonce = randomBytes(BLOB.nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', keys.encryption, nonce, { authTagLength: BLOB.tagBytes });
  cipher.setAAD(header);
  // The ciphertext goes back as it is, with the 20-byte head and the tag beside it, and the
  // pool joins them: building the whole blob here too would leave a second 1 MiB garbage
  // buffer per job in a thread that seldom collects (≈30 MB more peak RSS, measured).
  const body = cipher.update(payload);
  const tail = cipher.final();
  // Own (unpooled) buffers: cloning a view of Buffer's shared pool would copy the whole slab.
  const authTag = cipher.getAuthTag();
  const head = new Uint8Array(BLOB.headerBytes + BLOB.nonceBytes);
  head.set(header, 0);
  head.set(nonce, BLOB.headerBytes);
  const tag = new Uint8Array(tail.length + authTag.length);
  tag.set(tail, 0);
  tag.set(authTag, tail.length);
  const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
  const transfer = own ? [src.buffer, body.buffer] : [src.buffer];
  parentPort.postMessage({ id: job.id, ok: true, data: body, head, tag, input: src.buffer, chunkId }, transfer);
}

function decompress(job) {
  const dst = new Uint8Array(job.expectedLength);
  let written;
  try {
    written = dctx.decompress(dst, job.data);
  } catch (error) {
    return parentPort.postMessage({ id: job.id, ok: false, kind: 'corrupt', message: messageOf(error) });
  }
  if (written !== job.expectedLength) {
    return parentPort.postMessage({
      id: job.id,
      ok: false,
      kind: 'corrupt',
      message: 'decompressed to ' + written + ' bytes, expected ' + job.expectedLength,
    });
  }
  reply(job, dst);
}

parentPort.on('message', (job) => {
  try {
    if (job.op === 'compress') compress(job);
    else if (job.op === 'seal') seal(job);
    else decompress(job);
  } catch (error) {
    parentPort.postMessage({ id: job.id, ok: false, kind: 'internal', message: messageOf(error) });
  }
});
`;
}

/** Blob-format constants the worker's `seal` needs, passed in so they have one source. */
export interface WorkerBlobConstants {
  magic: number;
  version: number;
  compressedFlag: number;
  headerBytes: number;
  nonceBytes: number;
  tagBytes: number;
  /** Inputs shorter than this are sealed uncompressed. */
  minCompress: number;
}
