import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { openFsBackend } from './backend/index.js';
import { Repository } from './repository.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function emptyRepo(): Promise<Repository> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-stats-'));
  dirs.push(dir);
  return Repository.init(openFsBackend(join(dir, 'repo')), 'password', {
    kdf: { N: 1024, r: 8, p: 1 },
    workers: 1,
  });
}

describe('Repository.stats / check on an empty repository', () => {
  it('reports zeros and neutral ratios, and a clean check', async () => {
    const repo = await emptyRepo();
    try {
      expect(await repo.stats()).toEqual({
        snapshots: 0,
        logicalBytes: 0,
        uniqueBytes: 0,
        storedBytes: 0,
        dedupRatio: 1,
        compressionRatio: 1,
        chunks: 0,
        packs: 0,
      });
      expect(await repo.check({ readDataSubset: 10 })).toEqual({
        ok: true,
        mode: 'read-data-subset',
        packs: { total: 0, read: 0, unindexed: [], marked: [] },
        blobs: { total: 0, read: 0 },
        snapshots: { total: 0, damaged: [] },
        problems: [],
      });
    } finally {
      await repo.close();
    }
  });

  it('refuses a subset percentage outside (0, 100]', async () => {
    const repo = await emptyRepo();
    try {
      await expect(repo.check({ readDataSubset: 101 })).rejects.toThrow(RangeError);
      await expect(repo.check({ readDataSubset: Number.NaN })).rejects.toThrow(RangeError);
    } finally {
      await repo.close();
    }
  });
});
