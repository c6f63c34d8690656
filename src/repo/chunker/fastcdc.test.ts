import { createCipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cut } from './fastcdc.js';
import { gearTable } from './gear.js';
import type { ChunkerParams } from './params.js';

/** Reproducible pseudo-random bytes: the AES-256-CTR keystream under a one-byte seed. */
function pseudoRandom(bytes: number, seed: number): Buffer {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, seed), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(bytes));
}

const SMALL: ChunkerParams = { minSize: 2048, avgSize: 8192, maxSize: 65536 };

function cutAll(data: Uint8Array, params: ChunkerParams, table: Uint32Array): number[] {
  const lengths: number[] = [];
  for (let pos = 0; pos < data.length;) {
    const n = cut(data.subarray(pos), params, table);
    lengths.push(n);
    pos += n;
  }
  return lengths;
}

describe('cut (FastCDC)', () => {
  const table = gearTable(Buffer.alloc(32));

  it('keeps every chunk within bounds and covers the input exactly', () => {
    const data = pseudoRandom(2 * 1024 * 1024, 1);
    const lengths = cutAll(data, SMALL, table);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const n of lengths.slice(0, -1)) {
      expect(n).toBeGreaterThan(SMALL.minSize);
      expect(n).toBeLessThanOrEqual(SMALL.maxSize);
    }
    // Normalized chunking centres sizes near avg (the mean sits a little above: min is skipped).
    const mean = data.length / lengths.length;
    expect(mean).toBeGreaterThan(SMALL.avgSize * 0.75);
    expect(mean).toBeLessThan(SMALL.avgSize * 2);
  });

  it('returns the whole input when it is at most minSize, and cuts at maxSize without a match', () => {
    expect(cut(Buffer.alloc(0), SMALL, table)).toBe(0);
    expect(cut(Buffer.alloc(1), SMALL, table)).toBe(1);
    expect(cut(Buffer.alloc(SMALL.minSize), SMALL, table)).toBe(SMALL.minSize);
    // With every entry 2^31 the hash's top bit is always set, so no mask matches: only maxSize cuts.
    const never = new Uint32Array(256).fill(0x80000000);
    expect(cut(Buffer.alloc(SMALL.maxSize * 2), SMALL, never)).toBe(SMALL.maxSize);
    expect(cut(Buffer.alloc(SMALL.maxSize - 5), SMALL, never)).toBe(SMALL.maxSize - 5);
  });

  it('matches pinned cut points (a change here changes the repository format)', () => {
    const data = pseudoRandom(1024 * 1024, 7);
    const lengths = cutAll(data, SMALL, gearTable(Buffer.alloc(32, 9)));
    const digest = createHash('sha256').update(lengths.join(',')).digest('hex');
    expect({ count: lengths.length, first: lengths.slice(0, 5), digest }).toEqual(PINNED);
  });
});

const PINNED = {
  count: 113,
  first: [8835, 7586, 10114, 8737, 10584],
  digest: 'f1c467aef9850f4e4c5a4f50fd647fe70fb3b51c70be0f1c25f7ba4afa297217',
};
