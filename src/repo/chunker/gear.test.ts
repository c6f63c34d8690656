import { describe, expect, it } from 'vitest';
import { isShipError } from '../../core/index.js';
import { gearTable } from './gear.js';

describe('gearTable', () => {
  it('is the AES-256-CTR keystream of the key read as big-endian uint32', () => {
    const table = gearTable(Buffer.alloc(32));
    expect(table).toHaveLength(256);
    // AES-256 of the zero block under the zero key is dc95c078 a2408989 ad48a214 92842087.
    expect([table[0], table[1], table[2], table[3]]).toEqual([
      0xdc95c078, 0xa2408989, 0xad48a214, 0x92842087,
    ]);
  });

  it('is deterministic and depends on the key', () => {
    const a = gearTable(Buffer.alloc(32, 1));
    expect(gearTable(Buffer.alloc(32, 1))).toEqual(a);
    expect(gearTable(Buffer.alloc(32, 2))).not.toEqual(a);
  });

  it('refuses a key that is not 32 bytes', () => {
    try {
      gearTable(Buffer.alloc(16));
      expect.unreachable();
    } catch (error) {
      expect(isShipError(error) && error.code).toBe('SHIP_REPO_CHUNKER_KEY');
    }
  });
});
