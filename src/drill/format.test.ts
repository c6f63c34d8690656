import { describe, expect, it } from 'vitest';
import {
  exactDuration,
  humanDuration,
  objectivesMet,
  timelineRows,
  verdictLabel,
} from './format.js';
import { drillFixture } from '../../test/drill/fixtures/drill-results.js';

describe('humanDuration', () => {
  it.each([
    [0, '0 ms'],
    [999, '999 ms'],
    [1_000, '1 s'],
    [41_200, '41.2 s'],
    [59_960, '1 m'],
    [60_000, '1 m'],
    [192_000, '3 m 12 s'],
    [900_000, '15 m'],
    [7_381_700, '2 h 3 m'],
    [21_600_000, '6 h'],
    [90_000_000, '1 d 1 h'],
    [-1_700, '-1.7 s'],
  ])('%d ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('adds the exact milliseconds from a second up', () => {
    expect(exactDuration(41_200)).toBe('41.2 s (41200 ms)');
    expect(exactDuration(300)).toBe('300 ms');
  });
});

describe('timelineRows', () => {
  it('orders phases by start and marks the slowest step of the RTO', () => {
    const rows = timelineRows(drillFixture('passed'));
    const slowest = rows.filter((r) => r.slowest);
    expect(slowest).toHaveLength(1);
    expect(slowest[0]).toMatchObject({ owner: 'orders', phase: { phase: 'restore' } });
    const starts = rows.map((r) => r.phase.startMs);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it('never marks teardown as the slowest step, even when it took longest', () => {
    const result = drillFixture('interrupted');
    const rows = timelineRows(result);
    expect(rows.find((r) => r.slowest)).toMatchObject({
      owner: 'orders',
      phase: { phase: 'restore' },
    });
    const teardown = {
      phase: 'teardown' as const,
      startMs: 0,
      endMs: 10_000_000,
      durationMs: 10_000_000,
      ok: true,
    };
    const [orders, cache] = result.datastores;
    const withSlowTeardown = {
      ...result,
      datastores: [{ ...orders!, phases: [...orders!.phases, teardown] }, cache!],
    };
    expect(timelineRows(withSlowTeardown).find((r) => r.slowest)?.phase.phase).toBe('restore');
  });
});

describe('verdict and objectives', () => {
  it('labels an interrupted drill and says whether every objective was met', () => {
    expect(verdictLabel(drillFixture('interrupted'))).toBe('ERROR (interrupted)');
    expect(verdictLabel(drillFixture('passed'))).toBe('PASSED');
    expect(objectivesMet(drillFixture('passed'))).toBe(true);
    expect(objectivesMet(drillFixture('failed-rpo'))).toBe(false);
    expect(objectivesMet({ ...drillFixture('passed'), objectives: {} })).toBeNull();
  });
});
