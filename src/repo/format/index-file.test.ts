import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { isShipError } from '../../core/index.js';
import { openFsBackend } from '../backend/index.js';

import {
  decodeIndexFile,
  encodeIndexFile,
  loadMasterIndex,
  writeIndexFiles,
  type IndexFilePack,
} from './index-file.js';
import type { PackEntry } from './pack.js';

const key = Buffer.alloc(32, 3);

function packs(count: number, perPack: number): IndexFilePack[] {
  return Array.from({ length: count }, () => {
    let offset = 0;
    const entries: PackEntry[] = Array.from({ length: perPack }, (_, i) => {
      const length = 36 + 10 * (i + 1);
      const entry: PackEntry = {
        id: randomBytes(32).toString('hex'),
        type: i === 0 ? 'tree' : 'data',
        compressed: false,
        offset,
        length,
        plaintextLength: length - 36,
      };
      offset += length;
      return entry;
    });
    return { pack: randomBytes(32).toString('hex'), entries };
  });
}

describe('index files', () => {
  it('round-trips through encode and decode', () => {
    const input = packs(3, 5);
    expect(decodeIndexFile(encodeIndexFile(input), 'index')).toEqual(input);
    expect(decodeIndexFile(encodeIndexFile([]), 'index')).toEqual([]);
  });

  it('refuses random and truncated plaintexts with SHIP_REPO_CORRUPT', () => {
    const good = encodeIndexFile(packs(2, 3));
    const hostile = [good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])])];
    for (let i = 0; i < 200; i++) hostile.push(randomBytes(i));
    const huge = Buffer.from(good);
    huge.writeUInt32BE(0xffff_ffff, 8 + 32);
    hostile.push(huge);
    for (const plaintext of hostile) {
      let code: string | undefined;
      try {
        decodeIndexFile(plaintext, 'index');
      } catch (error) {
        code = isShipError(error) ? error.code : 'not a ShipError';
      }
      expect(code).toBe('SHIP_REPO_CORRUPT');
    }
  });

  it('splits large indexes over several files and loads them all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-index-'));
    try {
      const backend = openFsBackend(dir);
      const input = packs(4, 10);
      const { names } = await writeIndexFiles(backend, key, input, { maxEntries: 15 });
      expect(names).toHaveLength(3);
      const index = await loadMasterIndex(backend, key);
      expect(index.size).toBe(40);
      for (const pack of input) {
        for (const entry of pack.entries) {
          expect(index.get(entry.id, entry.type)).toEqual({ ...entry, pack: pack.pack });
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
