import { describe, expect, it } from 'vitest';

import { isShipError } from '../../core/index.js';

import { decodeTree, encodeTree, isValidEntryName, type TreeEntry } from './format.js';

const ID = 'ab'.repeat(32);
const base = { mode: 0o644, mtimeNs: '1700000000123456789', uid: 0, gid: 0 };
const file = (name: string): TreeEntry => ({ ...base, name, type: 'file', size: 0, chunks: [] });

function corruptCode(plaintext: object): string | undefined {
  try {
    decodeTree(Buffer.from(JSON.stringify(plaintext)), 'tree x');
  } catch (error) {
    return isShipError(error) ? error.code : 'not a ShipError';
  }
  return undefined;
}

describe('tree format', () => {
  it('sorts entries by UTF-8 bytes and round-trips', () => {
    const entries: TreeEntry[] = [
      file('é'),
      file('a'),
      file('B'),
      file('cafe\u0301'),
      file('caf\u00e9'),
      { ...base, name: 'd', type: 'dir', size: 0, subtree: ID },
      { ...base, name: 'l', type: 'symlink', size: 3, target: '../x' },
      { ...base, name: 'big', type: 'file', size: 10, lists: [ID] },
    ];
    const tree = decodeTree(encodeTree(entries), 'tree');
    expect(tree.entries.map((e) => e.name)).toEqual([
      'B',
      'a',
      'big',
      'cafe\u0301',
      'caf\u00e9',
      'd',
      'l',
      'é',
    ]);
    expect(() => encodeTree([file('a'), file('a')])).toThrow(/two entries/);
  });

  it('writes keys in the documented order, whatever order the caller used', () => {
    const shuffled = { size: 0, subtree: ID, gid: 2, uid: 1, type: 'dir', mtimeNs: '5', mode: 448 };
    const text = encodeTree([{ name: 'd', ...shuffled } as TreeEntry]).toString('utf8');
    expect(text).toBe(
      `{"version":1,"entries":[{"name":"d","type":"dir","mode":448,"mtimeNs":"5","uid":1,"gid":2,"size":0,"subtree":"${ID}"}]}`,
    );
  });

  it('rejects names that could leave the target, unsorted or duplicate entries', () => {
    for (const name of ['', '.', '..', 'a/b', 'nul\0']) {
      expect(isValidEntryName(name)).toBe(false);
      expect(corruptCode({ version: 1, entries: [file(name)] })).toBe('SHIP_REPO_CORRUPT');
    }
    expect(corruptCode({ version: 1, entries: [file('b'), file('a')] })).toBe('SHIP_REPO_CORRUPT');
    expect(corruptCode({ version: 1, entries: [file('a'), file('a')] })).toBe('SHIP_REPO_CORRUPT');
    expect(corruptCode({ version: 1, entries: [{ ...file('a'), chunks: undefined }] })).toBe(
      'SHIP_REPO_CORRUPT',
    );
    expect(corruptCode({ version: 1, entries: [{ ...file('a'), lists: [ID] }] })).toBe(
      'SHIP_REPO_CORRUPT',
    );
    expect(corruptCode({ version: 1, entries: [{ ...file('a'), mode: 0o10644 }] })).toBe(
      'SHIP_REPO_CORRUPT',
    );
    expect(corruptCode({ version: 2, entries: [] })).toBe('SHIP_REPO_UNSUPPORTED_VERSION');
    expect(corruptCode({ version: 1, entries: [], extra: 1 })).toBe('SHIP_REPO_CORRUPT');
  });
});
