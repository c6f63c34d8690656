import { randomBytes } from 'node:crypto';

import { afterAll, describe, expect, it } from 'vitest';

import { ShipError } from '../../core/index.js';
import { openBlob } from '../crypto/index.js';

import { openContent, sealContent, syncCodec } from './codec.js';
import { CompressPool } from './pool.js';

const key = randomBytes(32);
const pool = new CompressPool({ workers: 1 });
afterAll(() => pool.close());

describe('sealContent / openContent', () => {
  for (const [name, codec] of [
    ['pool', pool],
    ['sync', syncCodec()],
  ] as const) {
    it(`round-trips compressible and incompressible contents (${name})`, async () => {
      const text = Buffer.from('snapshot row\n'.repeat(10_000));
      const packed = await sealContent(codec, key, 'snapshot', text);
      expect(packed.compressed).toBe(true);
      expect(packed.sealed.length).toBeLessThan(text.length / 10);
      expect(openBlob(key, packed.sealed, 'snapshot').header).toMatchObject({
        compressed: true,
        length: text.length,
      });
      const opened = await openContent(codec, key, packed.sealed, 'snapshot');
      expect(opened.content.equals(text)).toBe(true);

      const random = randomBytes(50_000);
      const stored = await sealContent(codec, key, 'data', random);
      expect(stored.compressed).toBe(false);
      expect((await openContent(codec, key, stored.sealed, 'data')).content.equals(random)).toBe(
        true,
      );

      const empty = await sealContent(codec, key, 'tree', Buffer.alloc(0));
      expect((await openContent(codec, key, empty.sealed, 'tree')).content.length).toBe(0);
    });
  }

  it('refuses a declared length over the cap before decompressing', async () => {
    const text = Buffer.from('x'.repeat(100_000));
    const { sealed } = await sealContent(pool, key, 'index', text);
    await expect(
      openContent(syncCodec(), key, sealed, 'index', { what: 'index 42', maxBytes: 1000 }),
    ).rejects.toThrow(ShipError);
  });
});
