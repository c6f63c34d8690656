import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { MasterIndex } from './master-index.js';
import type { PackEntry } from './pack.js';

function entry(i: number, id = randomBytes(32).toString('hex')): PackEntry {
  return {
    id,
    type: 'data',
    compressed: i % 2 === 0,
    offset: i * 100,
    length: 36 + i,
    plaintextLength: i % 2 === 0 ? 1000 + i : i,
  };
}

describe('MasterIndex', () => {
  it('finds every entry after growing far past its initial capacity', () => {
    const index = new MasterIndex();
    const added = Array.from({ length: 5000 }, (_, i) => ({
      pack: `${i % 7}`.repeat(64),
      entry: entry(i),
    }));
    for (const { pack, entry: e } of added) expect(index.add(pack, e)).toBe(true);
    expect(index.size).toBe(5000);
    expect(index.packs()).toHaveLength(7);
    for (const { pack, entry: e } of added) {
      expect(index.get(e.id, 'data')).toEqual({ ...e, pack });
    }
    expect([...index.entries()].map((e) => e.id)).toEqual(added.map((a) => a.entry.id));
    expect(index.get(randomBytes(32).toString('hex'), 'data')).toBeUndefined();
  });

  it('keeps the first location of a duplicate and tells types apart', () => {
    const index = new MasterIndex();
    const first = entry(1);
    expect(index.add('a'.repeat(64), first)).toBe(true);
    expect(index.add('b'.repeat(64), { ...first, offset: 999 })).toBe(false);
    expect(index.get(first.id, 'data')?.pack).toBe('a'.repeat(64));
    expect(index.has(first.id, 'tree')).toBe(false);
    expect(index.add('c'.repeat(64), { ...first, type: 'tree' })).toBe(true);
    expect(index.get(first.id, 'tree')?.pack).toBe('c'.repeat(64));
    expect(index.size).toBe(2);
  });

  it('refuses malformed ids', () => {
    expect(() => new MasterIndex().has('XYZ', 'data')).toThrow(/hex id/);
  });
});
