import { randomBytes } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { chunkId, decodeBlobHeader, openBlob } from '../crypto/index.js';

import { CompressPool } from './pool.js';
import { decompressSync } from './zstd.js';

const keys = { encryption: randomBytes(32), chunkId: randomBytes(32) };
const pools: CompressPool[] = [];
function pool(options: ConstructorParameters<typeof CompressPool>[0] = {}): CompressPool {
  const created = new CompressPool(options);
  pools.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((created) => created.close()));
});

/** Opens a sealed blob the way readers do: authenticate, then undo zstd if flagged. */
function plaintextOf(sealed: Buffer, type: 'data' | 'tree'): Buffer {
  const { header, plaintext } = openBlob(keys.encryption, sealed, type);
  return header.compressed ? decompressSync(plaintext, header.length) : plaintext;
}

describe('CompressPool.seal', () => {
  it('seals compressible data compressed, in the sealBlob format, with its chunk id', async () => {
    const workers = pool({ workers: 2, sealKeys: keys });
    const input = Buffer.from('row 1 | alice | 2026-11-22\n'.repeat(40_000));
    const { sealed, id } = await workers.seal(input, 'data', { withId: true });
    expect(id).toBe(chunkId(keys.chunkId, input));
    const header = decodeBlobHeader(sealed);
    expect(header).toEqual({ version: 1, type: 'data', compressed: true, length: input.length });
    expect(sealed.length).toBeLessThan(input.length / 10);
    expect(plaintextOf(sealed, 'data').equals(input)).toBe(true);
  });

  it('leaves incompressible and tiny inputs uncompressed, and omits the id unless asked', async () => {
    const workers = pool({ workers: 1, sealKeys: keys });
    for (const input of [randomBytes(100_000), Buffer.from('tiny'), Buffer.alloc(0)]) {
      const { sealed, id } = await workers.seal(input, 'tree');
      expect(id).toBeUndefined();
      const header = decodeBlobHeader(sealed);
      expect(header).toEqual({ version: 1, type: 'tree', compressed: false, length: input.length });
      expect(sealed.length).toBe(input.length + 36);
      expect(plaintextOf(sealed, 'tree').equals(input)).toBe(true);
    }
  });

  it('uses a fresh nonce per blob and never detaches the caller buffer', async () => {
    const workers = pool({ workers: 2, sealKeys: keys });
    const input = randomBytes(4096);
    const [a, b] = await Promise.all([workers.seal(input, 'data'), workers.seal(input, 'data')]);
    expect(a.sealed.subarray(8, 20).equals(b.sealed.subarray(8, 20))).toBe(false);
    expect(input.length).toBe(4096);
  });

  it('sealParts returns the blob as header+nonce, ciphertext and tag pieces', async () => {
    const workers = pool({ workers: 1, sealKeys: keys, maxQueued: 0 });
    const inputs = [Buffer.from('abc '.repeat(50_000)), randomBytes(70_000), Buffer.alloc(0)];
    const copies = inputs.map((input) => Buffer.from(input));
    // More jobs than places (1 worker, no queue): the later ones wait for admission.
    const jobs = inputs.map((input) => workers.sealParts(input, 'data'));
    // The input is copied before sealParts returns: scribbling over it now changes nothing.
    for (const input of inputs) input.fill(0xee);
    const results = await Promise.all(jobs);
    results.forEach(({ parts, length }, i) => {
      const [head, body, tag] = parts;
      expect(head.length).toBe(20);
      expect(tag.length).toBe(16);
      expect(length).toBe(head.length + body.length + tag.length);
      expect(plaintextOf(Buffer.concat(parts), 'data').equals(copies[i]!)).toBe(true);
    });
  });

  it('refuses to seal without keys', async () => {
    await expect(pool({ workers: 1 }).seal(Buffer.from('x'), 'data')).rejects.toThrow(/sealKeys/);
  });
});
