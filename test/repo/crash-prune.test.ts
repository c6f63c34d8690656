import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PruneResult, Repository } from '../../src/repo/index.js';
import {
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
 * Crash safety of prune, enumerated like the backup's (see crash-backup.test.ts): five
 * snapshots, two forgotten, then `prune --grace 0` twice (the first marks unused packs and
 * repacks partly used ones, the second deletes what the first marked), stopped at every
 * failpoint hit, with and without power loss. After each: `check --read-data` is clean, the
 * three kept snapshots restore byte for byte, and prune run to completion afterwards leaves a
 * clean repository whose data the next backup reuses.
 */
const HEAVY = process.env.SHIPSHAPE_HEAVY_TESTS === '1';
const MIN_POINTS = 50;
const KIB = 1024;

const a = pseudoRandom(160 * KIB, 31);
const b = pseudoRandom(128 * KIB, 32);
const c = pseudoRandom(128 * KIB, 33);
const d = pseudoRandom(96 * KIB, 34);
const streams = new Map<string, Buffer>([
  ['s1', a],
  ['s2', Buffer.concat([a, b])],
  ['s3', c],
  // Half of b: the packs holding b end up partly used, so prune repacks them.
  ['s4', Buffer.concat([b.subarray(0, 64 * KIB), d])],
  ['s5', Buffer.concat([a.subarray(32 * KIB), d])],
]);
const kept = ['s1', 's4', 's5'];

function backup(repo: Repository, name: string) {
  return repo.backupStream(pieces(streams.get(name)!), { source: { type: 'stream', name } });
}

const scenario: CrashScenario<PruneResult[]> = {
  name: 'prune',
  async prepare(repo) {
    const forgotten: string[] = [];
    for (const name of streams.keys()) {
      const result = await backup(repo, name);
      if (!kept.includes(name)) forgotten.push(result.snapshotId);
    }
    await repo.forget({ ids: forgotten });
  },
  async run(repo) {
    // Grace 0: the second run may delete what the first marked (both phases, one operation).
    return [await repo.prune({ graceMs: 0 }), await repo.prune({ graceMs: 0 })];
  },
  contents: new Map(kept.map((name) => [name, streams.get(name)!])),
  required: kept,
  async followUp(repo) {
    const problems: string[] = [];
    await repo.prune({ graceMs: 0 });
    const last = await repo.prune({ graceMs: 0 });
    // The first run marks (and repacks) whatever the crash left, the second deletes it: after
    // that nothing is marked, nothing left to repack.
    if (last.stillMarked.length > 0 || last.marked.length > 0 || last.repacked.length > 0) {
      problems.push(
        `prune run to completion is not settled: ${last.marked.length} marked, ${last.stillMarked.length} still marked, ${last.repacked.length} repacked`,
      );
    }
    const report = await repo.check();
    if (!report.ok || report.packs.unindexed.length > 0) {
      problems.push(
        `after prune: check ${report.ok ? 'ok' : 'failed'}, ${report.packs.unindexed.length} unindexed packs`,
      );
    }
    const again = await backup(repo, 's5');
    if (again.newChunks !== 0) {
      problems.push(`a backup of kept data stored ${again.newChunks} new chunks after prune`);
    }
    return problems;
  },
};

describe('crash safety of prune (enumerated failpoints)', () => {
  let prepared: PreparedScenario<PruneResult[]>;
  beforeAll(async () => {
    prepared = await prepareScenario(scenario);
  });
  afterAll(async () => {
    await prepared.cleanup();
  });

  it(`has at least ${MIN_POINTS} crash points and runs both phases, repack included`, () => {
    const { trace, reference } = prepared;
    expect(trace.length).toBeGreaterThanOrEqual(MIN_POINTS);
    const [first, second] = reference;
    expect(first!.repacked.length).toBeGreaterThan(0);
    expect(first!.marked.length).toBeGreaterThan(first!.repacked.length);
    expect(second!.deleted.length).toBe(first!.marked.length);
    for (const point of [
      'prune.pack.written',
      'prune.index.written',
      'prune.index.deleted',
      'prune.marks.written',
      'prune.pack.deleted',
      'prune.marks.deleted',
      'lock.held',
      'lock.removed',
    ]) {
      expect(trace, point).toContain(point);
    }
    // Phase 1's writes all come before phase 2's first delete.
    expect(trace.lastIndexOf('prune.pack.written')).toBeLessThan(
      trace.indexOf('prune.pack.deleted'),
    );
    expect(trace.indexOf('prune.marks.written')).toBeLessThan(trace.indexOf('prune.pack.deleted'));
  });

  it(
    HEAVY
      ? 'survives a crash and a power loss at every point'
      : 'survives a crash and a power loss at a fixed sample of points (all: npm run test:crash)',
    async () => {
      const count = prepared.trace.length;
      const lossPoints = crashPoints(count, HEAVY ? 1 : 7);
      const crashOnly = crashPoints(count, HEAVY ? 1 : 14);
      const loss = await enumerateCrashes(prepared, lossPoints, ['power-loss']);
      const crash = await enumerateCrashes(prepared, crashOnly, ['crash']);
      const failures = [...loss.failures, ...crash.failures];
      const outcomes = [...loss.outcomes, ...crash.outcomes];
      expect(formatFailures(failures)).toBe('');
      expect(outcomes).toHaveLength(lossPoints.length + crashOnly.length);
      expect(outcomes.some((outcome) => outcome.staleLocks > 0)).toBe(true);
      if (HEAVY) {
        console.log(
          `crash-prune: ${count} points × 2 modes; ` +
            `${outcomes.filter((o) => o.unindexedPacks > 0).length} runs left unindexed packs, ` +
            `${outcomes.filter((o) => o.tempFiles > 0).length} left temp files`,
        );
      }
    },
  );
});
