import { createHmac, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { chunkId } from './chunk-id.js';

describe('chunkId', () => {
  it('is HMAC-SHA-256 hex, keyed', () => {
    const key = randomBytes(32);
    const data = Buffer.from('chunk');
    const id = chunkId(key, data);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(createHmac('sha256', key).update(data).digest('hex'));
    expect(chunkId(key, data)).toBe(id);
    expect(chunkId(randomBytes(32), data)).not.toBe(id);
  });

  it('rejects a key of the wrong size', () => {
    expect(() => chunkId(randomBytes(31), Buffer.alloc(1))).toThrow(/32 bytes/);
  });
});
