import { describe, expect, it } from 'vitest';
import type { DrillRun } from './evidence.js';
import { drillHistory } from './history.js';
import { DRILL_FIXTURES, drillFixture } from '../../test/drill/fixtures/drill-results.js';

const runs: DrillRun[] = DRILL_FIXTURES.map((name, i) => ({
  ledger: {
    seq: 10 + i,
    hash: String(i).repeat(64),
    recordedAt: '2026-11-22T18:00:00.000Z',
    subject: 'service:shop',
  },
  result: drillFixture(name),
}));

describe('drillHistory', () => {
  it('lists every drill oldest first with its verdict, RTO, RPO and objectives', () => {
    const rows = drillHistory(runs);
    expect(rows.map((r) => [r.runId, r.verdict, r.rtoMs, r.rpoMs, r.objectivesMet])).toEqual([
      ['20261122T130500Z-3fa4c2', 'passed', 41_200, 7_381_700, true],
      ['20261122T140000Z-5b1d07', 'failed', null, 10_681_700, false],
      ['20261122T150000Z-c4e9a1', 'failed', null, 14_281_700, false],
      ['20261122T160000Z-0a9e33', 'failed', 41_200, 5_281_700, false],
      ['20261122T170000Z-e71f02', 'error', null, 21_481_700, false],
    ]);
    expect(rows[3]).toMatchObject({ simulated: true, rpoObjectiveMs: 1_800_000, seq: 13 });
    expect(rows[4]?.interrupted).toBe(true);
    expect(rows[0]?.datastores.map((d) => d.name)).toEqual(['orders', 'session-cache']);
  });

  it('keeps only the newest drills with a limit', () => {
    expect(drillHistory(runs, { limit: 2 }).map((r) => r.seq)).toEqual([13, 14]);
    expect(drillHistory(runs, { limit: 50 })).toHaveLength(5);
  });

  it("narrows to one data store's figures", () => {
    const [first, ...rest] = runs;
    if (first === undefined) throw new Error('no runs');
    const onlyCache: DrillRun = {
      ...first,
      result: {
        ...first.result,
        datastores: first.result.datastores.filter((d) => d.name === 'session-cache'),
      },
    };
    const rows = drillHistory([onlyCache, ...rest], { datastore: 'orders' });
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.datastores.map((d) => d.name)).toEqual(['orders']);
    expect(rows.map((r) => [r.datastores[0]?.rtoMs, r.datastores[0]?.objectivesMet])).toEqual([
      [null, false],
      [31_600, true],
      [31_600, false],
      [null, false],
    ]);
    expect(drillHistory(runs, { datastore: 'nope' })).toEqual([]);
  });
});
