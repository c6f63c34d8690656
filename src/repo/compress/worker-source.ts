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
 * - any other failure → `{ id, ok: false, kind: 'internal', message }`
 * Output buffers are exact-size and transferred, not copied.
 */
export function workerSource(bindingPath: string): string {
  return `
'use strict';
const { parentPort } = require('node:worker_threads');
const binding = require(${JSON.stringify(bindingPath)});
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
    else decompress(job);
  } catch (error) {
    parentPort.postMessage({ id: job.id, ok: false, kind: 'internal', message: messageOf(error) });
  }
});
`;
}
