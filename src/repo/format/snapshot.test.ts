import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { isShipError } from '../../core/index.js';

import {
  MAX_CONTENT_LIST_IDS,
  decodeContentList,
  encodeContentList,
  snapshotManifestSchema,
} from './snapshot.js';
import { parseConfig, newRepositoryConfig, serializeConfig } from './config.js';

describe('content lists', () => {
  it('round-trips ids in order, up to the maximum', () => {
    const ids = Array.from({ length: MAX_CONTENT_LIST_IDS }, () => randomBytes(32).toString('hex'));
    expect(decodeContentList(encodeContentList(ids), 'list')).toEqual(ids);
    expect(decodeContentList(encodeContentList([]), 'list')).toEqual([]);
    expect(() => encodeContentList([...ids, ids[0] ?? ''])).toThrow(/at most/);
  });

  it('refuses malformed plaintexts', () => {
    const good = encodeContentList([randomBytes(32).toString('hex')]);
    for (const bad of [
      good.subarray(0, 39),
      Buffer.concat([good, Buffer.alloc(1)]),
      randomBytes(40),
    ]) {
      expect(() => decodeContentList(bad, 'list')).toThrow(/content list/);
    }
  });
});

describe('snapshot manifest schema', () => {
  const manifest = {
    version: 1,
    id: 'a'.repeat(64),
    time: '2026-11-22T08:00:00.000Z',
    host: 'h',
    user: 'u',
    source: { type: 'datastore', name: 'orders', kind: 'postgres' },
    sizes: { logicalBytes: 1, newBytes: 1, storedBytes: 40, chunks: 1, newChunks: 1 },
    toolVersions: { shipshape: '0.1.0', pg_dump: '16.4' },
    tags: [],
    content: { type: 'stream', size: 1, lists: ['b'.repeat(64)] },
  };
  it('accepts a stream manifest and a tree manifest', () => {
    expect(snapshotManifestSchema.parse(manifest)).toEqual(manifest);
    const tree = { ...manifest, content: { type: 'tree', root: 'c'.repeat(64) } };
    expect(snapshotManifestSchema.safeParse(tree).success).toBe(true);
  });
  it('refuses unknown fields and bad ids', () => {
    expect(snapshotManifestSchema.safeParse({ ...manifest, extra: 1 }).success).toBe(false);
    const badList = { ...manifest, content: { type: 'stream', size: 1, lists: ['zz'] } };
    expect(snapshotManifestSchema.safeParse(badList).success).toBe(false);
  });
});

describe('repository config', () => {
  it('round-trips and refuses unknown versions and fields', () => {
    const config = newRepositoryConfig();
    expect(parseConfig(serializeConfig(config), 'here')).toEqual(config);
    const code = (text: string) => {
      try {
        parseConfig(text, 'here');
      } catch (error) {
        return isShipError(error) ? error.code : 'not a ShipError';
      }
      return 'ok';
    };
    expect(code(JSON.stringify({ ...config, version: 7 }))).toBe('SHIP_REPO_UNSUPPORTED_VERSION');
    expect(code(JSON.stringify({ ...config, secret: 'x' }))).toBe('SHIP_REPO_CORRUPT');
    expect(code('{')).toBe('SHIP_REPO_CORRUPT');
    const badChunker = { ...config, chunker: { min: 10, avg: 3000, max: 20 } };
    expect(code(JSON.stringify(badChunker))).toBe('SHIP_REPO_CORRUPT');
  });
});
