import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BackupResult, Repository } from '../../src/repo/index.js';
import {
  crashAt,
  crashPoints,
  enumerateCrashes,
  formatFailures,
  pieces,
  prepareScenario,
  pseudoRandom,
  type CrashScenario,
  type PreparedScenario,
} from './crash-harness.js';

/**
 * Crash safety of a backup, enumerated: a repository with two completed snapshots, then a third
 * backup of modified data (many packs, an index file, a manifest, the lock's writes) stopped at
 * every failpoint hit in turn, once with only its fsynced writes surviving (power loss) and once
 * with all of them (process crash). After each: `check --read-data` is clean, both earlier
 * snapshots restore byte for byte, `repo unlock` clears the crashed lock, and the same backup
 * succeeds again, reusing stored data.
 *
 * `npm test` runs a fixed sample (every 7th hit, the first and the last); `npm run test:crash`
 * (SHIPSHAPE_HEAVY_TESTS=1) runs every hit.
 */
const HEAVY = process.env.SHIPSHAPE_HEAVY_TESTS === '1';
const MIN_POINTS = 50;

const first = pseudoRandom(192 * 1024, 1);
const second = Buffer.concat([
  first.subarray(0, 96 * 1024),
  pseudoRandom(48 * 1024, 2),
  first.subarray(96 * 1024),
]);
/** Modified data: most of `second`, a changed middle, a new tail. */
const third = Buffer.concat([
  second.subarray(0, 64 * 1024),
  pseudoRandom(160 * 1024, 3),
  second.subarray(128 * 1024),
  pseudoRandom(96 * 1024, 4),
]);

function backup(repo: Repository, name: string, data: Buffer): Promise<BackupResult> {
  return repo.backupStream(pieces(data), { source: { type: 'stream', name } });
}

const scenario: CrashScenario<BackupResult> = {
  name: 'backup',
  async prepare(repo) {
    await backup(repo, 'first', first);
    await backup(repo, 'second', second);
  },
  run: (repo) => backup(repo, 'third', third),
  contents: new Map([
    ['first', first],
    ['second', second],
    ['third', third],
  ]),
  required: ['first', 'second'],
  async followUp(repo, reference, step) {
    const problems: string[] = [];
    const again = await backup(repo, 'third', third);
    if (again.chunks !== reference.chunks) {
      problems.push(
        `next backup: ${again.chunks} chunks, the uncrashed one had ${reference.chunks}`,
      );
    }
    // The next backup never stores more than an uncrashed one did, never re-stores what the two
    // earlier snapshots hold, and once a pack of the crashed backup was durable it reuses that
    // pack's chunks (indexing packs the crash left unindexed) instead of storing them again.
    const packDurable = step.before.includes('pack.written');
    const limit = packDurable ? reference.newChunks - 1 : reference.newChunks;
    if (again.newChunks > limit || again.newChunks >= again.chunks) {
      problems.push(
        `next backup stored ${again.newChunks} of ${again.chunks} chunks as new (uncrashed: ${reference.newChunks}${packDurable ? ', a pack of the crashed run was durable' : ''})`,
      );
    }
    // The packs it adopted are now in its index files, consistent with their tables of contents.
    const after = await repo.check();
    if (!after.ok || after.packs.unindexed.length > 0) {
      problems.push(
        `after the next backup: check ${after.ok ? 'ok' : `found ${after.problems.length} problems`}, ${after.packs.unindexed.length} packs still unindexed`,
      );
    }
    return problems;
  },
};

describe('crash safety of a backup (enumerated failpoints)', () => {
  let prepared: PreparedScenario<BackupResult>;
  beforeAll(async () => {
    prepared = await prepareScenario(scenario);
  });
  afterAll(async () => {
    await prepared.cleanup();
  });

  it(`has at least ${MIN_POINTS} distinct crash points, covering every kind of write`, () => {
    const { trace } = prepared;
    expect(trace.length).toBeGreaterThanOrEqual(MIN_POINTS);
    expect(new Set(trace)).toEqual(
      new Set([
        'lock.written',
        'lock.held',
        'lock.removed',
        'pack.written',
        'index.written',
        'snapshot.written',
        'backend.put.written',
        'backend.put.synced',
        'backend.put.linked',
        'backend.put.temp-removed',
        'backend.put.renamed',
        'backend.put.dir-synced',
        'backend.remove.unlinked',
        'backend.remove.dir-synced',
      ]),
    );
    // The write order the argument in docs/repository-format.md rests on.
    const last = (point: string) => trace.lastIndexOf(point);
    expect(trace.filter((point) => point === 'pack.written').length).toBeGreaterThanOrEqual(5);
    expect(last('pack.written')).toBeLessThan(trace.indexOf('index.written'));
    expect(last('index.written')).toBeLessThan(trace.indexOf('snapshot.written'));
    expect(trace.indexOf('lock.held')).toBeLessThan(trace.indexOf('pack.written'));
    expect(trace.at(-1)).toBe('lock.removed');
  });

  it('fails on a disk whose file fsyncs do not persist (the enumeration can fail)', async () => {
    // The same checks against a broken write path: after the manifest is written, a power loss
    // must leave empty packs, index and manifest behind, and the recovery must say so.
    const n = prepared.trace.indexOf('snapshot.written') + 1;
    const { failure } = await crashAt(prepared, n, 'power-loss', { lyingFileSync: true });
    expect(failure?.point).toBe('snapshot.written');
    expect(failure?.problems.join('\n')).toMatch(/pack-unreadable|recovery failed/);
    // And the honest disk at the same point is fine.
    expect((await crashAt(prepared, n, 'power-loss')).failure).toBeUndefined();
  });

  it(
    HEAVY
      ? 'survives a crash and a power loss at every point'
      : 'survives a crash and a power loss at a fixed sample of points (all: npm run test:crash)',
    async () => {
      const count = prepared.trace.length;
      // Sample: power loss at every 7th point, a plain crash at every 14th (plus first and last).
      const lossPoints = crashPoints(count, HEAVY ? 1 : 7);
      const crashOnly = crashPoints(count, HEAVY ? 1 : 14);
      const loss = await enumerateCrashes(prepared, lossPoints, ['power-loss']);
      const crash = await enumerateCrashes(prepared, crashOnly, ['crash']);
      const failures = [...loss.failures, ...crash.failures];
      const outcomes = [...loss.outcomes, ...crash.outcomes];
      expect(formatFailures(failures)).toBe('');
      expect(outcomes).toHaveLength(lossPoints.length + crashOnly.length);
      // The runs did reach the interesting states: a lock left behind, packs no index lists yet,
      // and the third snapshot complete (crashed after its manifest, before the lock's removal).
      expect(outcomes.some((outcome) => outcome.staleLocks > 0)).toBe(true);
      expect(outcomes.some((outcome) => outcome.unindexedPacks > 0)).toBe(true);
      expect(outcomes.some((outcome) => outcome.snapshots === 3)).toBe(true);
      if (HEAVY) {
        console.log(
          `crash-backup: ${count} points × 2 modes; ` +
            `${outcomes.filter((o) => o.unindexedPacks > 0).length} runs left unindexed packs, ` +
            `${outcomes.filter((o) => o.tempFiles > 0).length} left temp files`,
        );
      }
    },
  );
});
