import { describe, expect, it } from 'vitest';

import { isShipError } from '../core/index.js';
import {
  applyRetention,
  calendarOf,
  isoWeek,
  validatePolicy,
  type RetentionPolicy,
  type RetentionSnapshot,
} from './retention.js';

let counter = 0;
function snap(time: string, extra: Partial<RetentionSnapshot> = {}): RetentionSnapshot {
  counter++;
  return {
    id: counter.toString(16).padStart(64, '0'),
    time: new Date(time).toISOString(),
    host: 'db1',
    source: { type: 'stream', name: 'orders' },
    tags: [],
    ...extra,
  };
}

/** Times of kept snapshots, newest first. */
function kept(
  snapshots: readonly RetentionSnapshot[],
  policy: RetentionPolicy,
  timeZone?: string,
): string[] {
  return applyRetention(snapshots, policy, timeZone === undefined ? {} : { timeZone })
    .filter((d) => d.keep)
    .map((d) => d.time);
}

function reasonsOf(snapshots: readonly RetentionSnapshot[], policy: RetentionPolicy) {
  return Object.fromEntries(
    applyRetention(snapshots, policy).map((d) => [d.time, d.reasons.join(', ')]),
  );
}

/** One snapshot every `hours` hours from `start`, `count` of them. */
function series(start: string, hours: number, count: number): RetentionSnapshot[] {
  const t0 = Date.parse(start);
  return Array.from({ length: count }, (_, i) =>
    snap(new Date(t0 + i * hours * 3_600_000).toISOString()),
  );
}

describe('validatePolicy', () => {
  it('refuses an empty policy, which would remove everything', () => {
    for (const policy of [{}, { keepLast: 0, keepDaily: 0 }, { keepTags: [] }]) {
      try {
        validatePolicy(policy);
        expect.unreachable();
      } catch (error) {
        expect(isShipError(error) && error.code).toBe('SHIP_REPO_EMPTY_POLICY');
        expect(isShipError(error) && error.exitCode).toBe(2);
        expect((error as Error).message).toContain('would remove every snapshot');
      }
    }
  });

  it('refuses negative or fractional counts, naming the flag', () => {
    expect(() => {
      validatePolicy({ keepDaily: -1 });
    }).toThrow(/--keep-daily -1 is not a whole number/);
    expect(() => {
      validatePolicy({ keepLast: 1.5 });
    }).toThrow(/--keep-last 1.5/);
  });

  it('refuses an unknown time zone', () => {
    try {
      calendarOf('Mars/Olympus');
      expect.unreachable();
    } catch (error) {
      expect(isShipError(error) && error.code).toBe('SHIP_REPO_BAD_TIME_ZONE');
    }
  });
});

describe('applyRetention', () => {
  it('keeps the N newest with keepLast, and everything when there are fewer than N', () => {
    const all = series('2026-11-01T00:00:00Z', 1, 5);
    expect(kept(all, { keepLast: 2 })).toEqual([
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T03:00:00.000Z',
    ]);
    expect(kept(all, { keepLast: 10 })).toHaveLength(5);
    expect(reasonsOf(all, { keepLast: 2 })['2026-11-01T04:00:00.000Z']).toBe('last 2');
    expect(reasonsOf(all, { keepLast: 2 })['2026-11-01T00:00:00.000Z']).toBe('');
  });

  it('keeps the newest snapshot of each of the N most recent days', () => {
    // Every 6 hours for 4 days: 16 snapshots.
    const all = series('2026-11-17T00:00:00Z', 6, 16);
    expect(kept(all, { keepDaily: 3 })).toEqual([
      '2026-11-20T18:00:00.000Z',
      '2026-11-19T18:00:00.000Z',
      '2026-11-18T18:00:00.000Z',
    ]);
    expect(reasonsOf(all, { keepDaily: 3 })['2026-11-19T18:00:00.000Z']).toBe('daily 2026-11-19');
  });

  it('counts only buckets that hold a snapshot (gaps do not use up N)', () => {
    const all = [
      snap('2026-11-01T10:00:00Z'),
      snap('2026-11-05T10:00:00Z'),
      snap('2026-11-20T10:00:00Z'),
    ];
    expect(kept(all, { keepDaily: 2 })).toEqual([
      '2026-11-20T10:00:00.000Z',
      '2026-11-05T10:00:00.000Z',
    ]);
  });

  it('lists every rule that keeps a snapshot', () => {
    const all = series('2026-11-17T00:00:00Z', 12, 8);
    const reasons = reasonsOf(all, { keepLast: 1, keepDaily: 1, keepWeekly: 1, keepMonthly: 1 });
    expect(reasons['2026-11-20T12:00:00.000Z']).toBe(
      'last 1, daily 2026-11-20, weekly 2026-W47, monthly 2026-11',
    );
  });

  it('hourly buckets: one per wall-clock hour', () => {
    const all = [
      snap('2026-11-20T10:05:00Z'),
      snap('2026-11-20T10:55:00Z'),
      snap('2026-11-20T11:10:00Z'),
    ];
    expect(kept(all, { keepHourly: 5 })).toEqual([
      '2026-11-20T11:10:00.000Z',
      '2026-11-20T10:55:00.000Z',
    ]);
    expect(reasonsOf(all, { keepHourly: 5 })['2026-11-20T10:55:00.000Z']).toBe(
      'hourly 2026-11-20T10',
    );
  });

  it('cuts days in the given time zone', () => {
    // 23:30 UTC on the 20th is already the 21st in Berlin (UTC+1 in November).
    const all = [snap('2026-11-20T22:30:00Z'), snap('2026-11-20T23:30:00Z')];
    expect(kept(all, { keepDaily: 5 })).toHaveLength(1);
    expect(kept(all, { keepDaily: 5 }, 'Europe/Berlin')).toHaveLength(2);
  });

  it('handles a DST fall-back day (25 hours) and spring-forward (23 hours) in New York', () => {
    // 2026-11-01 is the fall-back day in America/New_York: 04:00Z = 00:00 EDT,
    // 05:00Z and 06:00Z are both 01:00 local (EDT then EST), 04:59Z next day = 23:59 EST.
    const fall = [
      snap('2026-11-01T04:00:00Z'),
      snap('2026-11-01T05:30:00Z'),
      snap('2026-11-01T06:30:00Z'),
      snap('2026-11-02T04:59:00Z'),
    ];
    expect(kept(fall, { keepDaily: 5 }, 'America/New_York')).toEqual(['2026-11-02T04:59:00.000Z']);
    // The repeated 01:00 hour is one hourly bucket.
    expect(kept(fall, { keepHourly: 10 }, 'America/New_York')).toEqual([
      '2026-11-02T04:59:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-01T04:00:00.000Z',
    ]);
    // 2026-03-08 spring-forward: 05:00Z = 00:00 EST, 03:59Z next day = 23:59 EDT.
    const spring = [snap('2026-03-08T05:00:00Z'), snap('2026-03-09T03:59:00Z')];
    expect(kept(spring, { keepDaily: 5 }, 'America/New_York')).toHaveLength(1);
  });

  it('weekly and yearly buckets across a year boundary use ISO weeks and local years', () => {
    // 2026-12-31 (Thu) and 2027-01-01 (Fri) are both in ISO week 2026-W53.
    const all = [snap('2026-12-31T12:00:00Z'), snap('2027-01-01T12:00:00Z')];
    expect(reasonsOf(all, { keepWeekly: 5 })).toEqual({
      '2027-01-01T12:00:00.000Z': 'weekly 2026-W53',
      '2026-12-31T12:00:00.000Z': '',
    });
    expect(kept(all, { keepYearly: 5 })).toHaveLength(2);
    // Midnight UTC on New Year is still the old year in New York.
    const ny = [snap('2026-12-31T20:00:00Z'), snap('2027-01-01T02:00:00Z')];
    expect(kept(ny, { keepYearly: 5 }, 'America/New_York')).toHaveLength(1);
    expect(kept(ny, { keepYearly: 5 })).toHaveLength(2);
  });

  it('ISO weeks: Mondays start weeks; early January can belong to the previous year', () => {
    expect(isoWeek(2026, 11, 22)).toEqual({ weekYear: 2026, week: 47 }); // a Sunday
    expect(isoWeek(2026, 11, 23)).toEqual({ weekYear: 2026, week: 48 }); // Monday
    expect(isoWeek(2027, 1, 3)).toEqual({ weekYear: 2026, week: 53 });
    expect(isoWeek(2025, 12, 29)).toEqual({ weekYear: 2026, week: 1 });
  });

  it('breaks ties in time by id, keeping exactly one per bucket', () => {
    const a = snap('2026-11-20T10:00:00Z');
    const b = snap('2026-11-20T10:00:00Z');
    const decisions = applyRetention([a, b], { keepDaily: 1 });
    expect(decisions.filter((d) => d.keep).map((d) => d.id)).toEqual([b.id]);
    expect(applyRetention([b, a], { keepDaily: 1 }).filter((d) => d.keep)).toHaveLength(1);
  });

  it('keepWithin is measured from the newest snapshot of the group, not the clock', () => {
    const all = series('2020-01-01T00:00:00Z', 24, 10);
    expect(kept(all, { keepWithinMs: 3 * 86_400_000 })).toEqual([
      '2020-01-10T00:00:00.000Z',
      '2020-01-09T00:00:00.000Z',
      '2020-01-08T00:00:00.000Z',
      '2020-01-07T00:00:00.000Z',
    ]);
    expect(reasonsOf(all, { keepWithinMs: 3 * 86_400_000 })['2020-01-07T00:00:00.000Z']).toBe(
      'within 3d',
    );
  });

  it('keepTags keeps tagged snapshots', () => {
    const all = [
      snap('2026-11-01T00:00:00Z', { tags: ['pre-release'] }),
      snap('2026-11-02T00:00:00Z'),
    ];
    expect(reasonsOf(all, { keepTags: ['pre-release'] })).toEqual({
      '2026-11-02T00:00:00.000Z': '',
      '2026-11-01T00:00:00.000Z': 'tag pre-release',
    });
  });

  it('applies the policy per group: by source by default, by host and source, or all together', () => {
    const all = [
      snap('2026-11-20T10:00:00Z', { source: { type: 'stream', name: 'orders' } }),
      snap('2026-11-20T11:00:00Z', { source: { type: 'stream', name: 'users' } }),
      snap('2026-11-20T12:00:00Z', { source: { type: 'stream', name: 'orders' }, host: 'db2' }),
    ];
    const bySource = applyRetention(all, { keepLast: 1 });
    expect(
      bySource
        .filter((d) => d.keep)
        .map((d) => d.time)
        .sort(),
    ).toEqual(['2026-11-20T11:00:00.000Z', '2026-11-20T12:00:00.000Z']);
    expect(new Set(bySource.map((d) => d.group))).toEqual(
      new Set(['stream:orders', 'stream:users']),
    );
    const byHost = applyRetention(all, { keepLast: 1 }, { groupBy: 'host,source' });
    expect(byHost.filter((d) => d.keep)).toHaveLength(3);
    const none = applyRetention(all, { keepLast: 1 }, { groupBy: 'none' });
    expect(none.filter((d) => d.keep).map((d) => d.time)).toEqual(['2026-11-20T12:00:00.000Z']);
  });

  it('returns no decisions for no snapshots', () => {
    expect(applyRetention([], { keepLast: 3 })).toEqual([]);
  });
});
