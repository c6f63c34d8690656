// Seeded, poorly compressible "dump" data for bench/repo-vs-restic.sh, and its seeded change.
//
//   npx tsx bench/synthetic-dump.ts generate OUT MB [SEED]
//     rows of random base64 text and numbers (zstd gets ~1.3:1 from them), MB MiB, the same
//     bytes for the same seed on every machine.
//   npx tsx bench/synthetic-dump.ts change IN OUT [SEED]
//     IN with 1,000 scattered 16-byte edits and 10 inserted 4 KiB blocks, at positions drawn
//     from the seed; streams, so memory stays flat for any size.
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

const EDITS = 1000;
const EDIT_BYTES = 16;
const INSERTS = 10;
const INSERT_BYTES = 4096;

/** A deterministic byte stream: AES-256-CTR keystream under a key derived from the seed. */
function keystream(seed: string, purpose: string): (length: number) => Buffer {
  const key = createHash('sha256').update(`${purpose}:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (length) => cipher.update(Buffer.alloc(length));
}

async function write(out: Writable, data: Buffer): Promise<void> {
  if (!out.write(data)) await once(out, 'drain');
}

async function close(out: Writable): Promise<void> {
  out.end();
  await once(out, 'finish');
}

async function generate(path: string, mb: number, seed: string): Promise<void> {
  const total = mb * 1024 * 1024;
  const random = keystream(seed, 'rows');
  const out = createWriteStream(path);
  let written = 0;
  let row = 0;
  while (written < total) {
    // ~8,000 rows a batch: id, two base64 columns of random bytes, an integer and a decimal.
    const bytes = random(8192 * 88);
    const lines: string[] = [];
    for (let at = 0; at + 88 <= bytes.length; at += 88) {
      const text = bytes.subarray(at, at + 36).toString('base64');
      const code = bytes.subarray(at + 36, at + 48).toString('base64');
      const amount = bytes.readUInt32BE(at + 48);
      const price = (bytes.readUInt32BE(at + 52) / 1000).toFixed(3);
      const ref = bytes.subarray(at + 56, at + 88).toString('base64url');
      lines.push(`${row++}\t${text}\t${code}\t${amount}\t${price}\t${ref}\n`);
    }
    let chunk = Buffer.from(lines.join(''));
    if (written + chunk.length > total) chunk = chunk.subarray(0, total - written);
    await write(out, chunk);
    written += chunk.length;
  }
  await close(out);
}

async function change(input: string, output: string, seed: string): Promise<void> {
  const size = statSync(input).size;
  const random = keystream(seed, 'change');
  const position = () => random(6).readUIntBE(0, 6) % size;
  const edits = Array.from({ length: EDITS }, () => ({
    at: Math.min(position(), size - EDIT_BYTES),
    bytes: random(EDIT_BYTES),
  })).sort((a, b) => a.at - b.at);
  const inserts = Array.from({ length: INSERTS }, () => ({
    at: position(),
    bytes: random(INSERT_BYTES),
  })).sort((a, b) => a.at - b.at);
  const out = createWriteStream(output);
  let offset = 0;
  let nextEdit = 0;
  let nextInsert = 0;
  for await (const piece of createReadStream(input, { highWaterMark: 1024 * 1024 })) {
    const chunk = Buffer.from(piece as Buffer);
    const end = offset + chunk.length;
    // Edits overlapping this piece (one may straddle two pieces: each gets its part).
    while (nextEdit < edits.length && (edits[nextEdit]?.at ?? end) < end) nextEdit++;
    for (let i = nextEdit - 1; i >= 0; i--) {
      const edit = edits[i];
      if (edit === undefined || edit.at + EDIT_BYTES <= offset) break;
      for (let k = 0; k < EDIT_BYTES; k++) {
        const at = edit.at + k - offset;
        if (at >= 0 && at < chunk.length) chunk[at] = edit.bytes[k] ?? 0;
      }
    }
    let from = 0;
    while (nextInsert < inserts.length && (inserts[nextInsert]?.at ?? end) < end) {
      const insert = inserts[nextInsert++];
      if (insert === undefined) break;
      await write(out, chunk.subarray(from, insert.at - offset));
      await write(out, insert.bytes);
      from = insert.at - offset;
    }
    await write(out, chunk.subarray(from));
    offset = end;
  }
  await close(out);
}

const [command, a, b, c] = process.argv.slice(2);
if (command === 'generate' && a !== undefined && b !== undefined) {
  await generate(a, Number(b), c ?? 'shipshape-bench');
} else if (command === 'change' && a !== undefined && b !== undefined) {
  await change(a, b, c ?? 'shipshape-bench');
} else {
  console.error('usage: tsx bench/synthetic-dump.ts generate OUT MB [SEED] | change IN OUT [SEED]');
  process.exit(2);
}
