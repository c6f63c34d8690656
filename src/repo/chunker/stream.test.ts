import { createCipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isShipError } from '../../core/index.js';
import { cut } from './fastcdc.js';
import { gearTable } from './gear.js';
import { DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from './params.js';
import { chunkStream } from './stream.js';

function pseudoRandom(bytes: number, seed: number): Buffer {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, seed), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(bytes));
}

const KEY = Buffer.alloc(32, 0x5a);
const SMALL: ChunkerParams = { minSize: 2048, avgSize: 8192, maxSize: 65536 };
const MiB = 1024 * 1024;

/** Feeds `data` in pieces of the given sizes (cycled). */
async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let i = 0;
  for (let pos = 0; pos < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    await Promise.resolve();
    yield data.subarray(pos, pos + n);
    pos += n;
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

const id = (chunk: Buffer): string => createHash('sha256').update(chunk).digest('hex');

describe('chunkStream', () => {
  it('yields chunks within bounds that concatenate to the input', async () => {
    const data = pseudoRandom(20 * MiB, 1);
    const chunks = await collect(
      chunkStream(pieces(data, [64 * 1024]), DEFAULT_CHUNKER_PARAMS, KEY),
    );
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(DEFAULT_CHUNKER_PARAMS.minSize);
      expect(chunk.length).toBeLessThanOrEqual(DEFAULT_CHUNKER_PARAMS.maxSize);
    }
    // Memory stays bounded: every chunk is a view of a work buffer of at most 2 × maxSize.
    for (const chunk of chunks) {
      expect(chunk.buffer.byteLength).toBeLessThanOrEqual(2 * DEFAULT_CHUNKER_PARAMS.maxSize);
    }
  });

  it('cuts the same places however the input is split, and as the sync core does', async () => {
    const data = pseudoRandom(MiB + 12345, 2);
    const table = gearTable(KEY);
    const expected: number[] = [];
    for (let pos = 0; pos < data.length;) {
      const n = cut(data.subarray(pos), SMALL, table);
      expected.push(n);
      pos += n;
    }
    for (const sizes of [[data.length], [1, 7, 4096, 100_000], [65536], [65537, 3]]) {
      const chunks = await collect(chunkStream(pieces(data, sizes), SMALL, KEY));
      expect(chunks.map((c) => c.length)).toEqual(expected);
    }
  });

  it('is deterministic, and different keys give different boundaries', async () => {
    const data = pseudoRandom(4 * MiB, 3);
    const run = async (key: Buffer) =>
      (await collect(chunkStream([data], SMALL, key))).map((c) => c.length);
    const a = await run(KEY);
    expect(await run(KEY)).toEqual(a);
    const b = await run(Buffer.alloc(32, 0x33));
    expect(b).not.toEqual(a);
    // Not merely shifted: almost no cut offset is shared.
    const offsets = (lengths: number[]) =>
      new Set(lengths.map((_, i) => lengths.slice(0, i + 1).reduce((x, y) => x + y, 0)));
    const cutsA = offsets(a);
    const shared = [...offsets(b)].filter((o) => cutsA.has(o) && o !== data.length).length;
    expect(shared).toBeLessThan(a.length / 10);
  });

  it('keeps most chunks after an edit near the start (boundary stability)', async () => {
    const data = pseudoRandom(20 * MiB, 4);
    const edited = Buffer.concat([
      data.subarray(0, 1000),
      Buffer.from('inserted bytes!'),
      data.subarray(1000),
    ]);
    const before = (await collect(chunkStream([data], DEFAULT_CHUNKER_PARAMS, KEY))).map(id);
    const after = new Set(
      (await collect(chunkStream([edited], DEFAULT_CHUNKER_PARAMS, KEY))).map(id),
    );
    const kept = before.filter((chunk) => after.has(chunk)).length;
    expect(kept / before.length).toBeGreaterThanOrEqual(0.8);
  });

  it('yields nothing for an empty input, and one chunk for one byte', async () => {
    expect(await collect(chunkStream([], DEFAULT_CHUNKER_PARAMS, KEY))).toEqual([]);
    expect(await collect(chunkStream([Buffer.alloc(0)], DEFAULT_CHUNKER_PARAMS, KEY))).toEqual([]);
    const one = await collect(chunkStream([Buffer.from([42])], DEFAULT_CHUNKER_PARAMS, KEY));
    expect(one).toEqual([Buffer.from([42])]);
    // A small input does not pin a max-sized work buffer.
    expect(one[0]!.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it('does not retain the source buffers (a source may reuse its buffer)', async () => {
    const data = pseudoRandom(MiB, 5);
    async function* reusing(): AsyncGenerator<Buffer> {
      const buffer = Buffer.alloc(4096);
      for (let pos = 0; pos < data.length; pos += buffer.length) {
        data.copy(buffer, 0, pos, pos + buffer.length);
        await Promise.resolve();
        yield buffer;
        buffer.fill(0xee); // scribble over it as soon as the consumer asks for more
      }
    }
    const chunks = await collect(chunkStream(reusing(), SMALL, KEY));
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('with reuseBuffer, cuts the same chunks from one reused work buffer', async () => {
    const data = pseudoRandom(MiB + 777, 6);
    const expected = (await collect(chunkStream(pieces(data, [5000, 70_000]), SMALL, KEY))).map(
      (chunk) => Buffer.from(chunk),
    );
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const source = chunkStream(pieces(data, [5000, 70_000]), SMALL, KEY, { reuseBuffer: true });
    for await (const chunk of source) {
      // Valid until the next chunk is asked for: copy it now, as a consumer must.
      copies.push(Buffer.from(chunk));
      buffers.add(chunk.buffer);
    }
    expect(copies.map((chunk) => chunk.length)).toEqual(expected.map((chunk) => chunk.length));
    expect(Buffer.concat(copies).equals(data)).toBe(true);
    // 1 MiB through a 128 KiB work buffer: the buffer grows once to full size, then is reused
    // (without reuse there would be a fresh one per 128 KiB).
    expect(buffers.size).toBeLessThanOrEqual(3);
    for (const buffer of buffers) expect(buffer.byteLength).toBeLessThanOrEqual(2 * 65536);
  });

  it('validates params and key before reading, and passes source errors through', async () => {
    const bad = { minSize: 4096, avgSize: 4096, maxSize: 8192 };
    await expect(collect(chunkStream([Buffer.alloc(1)], bad, KEY))).rejects.toMatchObject({
      code: 'SHIP_REPO_CHUNKER_PARAMS',
    });
    const error = await collect(chunkStream([Buffer.alloc(1)], SMALL, Buffer.alloc(3))).catch(
      (e: unknown) => e,
    );
    expect(isShipError(error) && error.code).toBe('SHIP_REPO_CHUNKER_KEY');
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(10);
      await Promise.resolve();
      throw new Error('disk on fire');
    }
    await expect(collect(chunkStream(failing(), SMALL, KEY))).rejects.toThrow('disk on fire');
  });
});
