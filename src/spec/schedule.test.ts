import { describe, expect, it } from 'vitest';
import { cronProblem, nextScheduledRuns, timezoneProblem } from './schedule.js';

/*
 * What a schedule does around daylight-saving changes, pinned down so that a croner upgrade
 * that changes it fails here (docs/spec.md, "Schedules and daylight saving time", describes it).
 * Europe/Berlin, 2025: clocks jump 02:00 → 03:00 CET→CEST on 30 March (01:00 UTC), and fall
 * back 03:00 → 02:00 CEST→CET on 26 October (01:00 UTC), so 02:00–03:00 happens twice.
 */
const berlin = (cron: string) => ({ cron, timezone: 'Europe/Berlin' });
const iso = (dates: Date[]) => dates.map((date) => date.toISOString());

describe('schedules across DST in Europe/Berlin', () => {
  const beforeSpring = new Date('2025-03-29T12:00:00Z');
  const beforeFall = new Date('2025-10-25T12:00:00Z');

  it('spring forward: a daily time inside the gap runs once, shifted forward by the gap', () => {
    // 02:30 does not exist on 30 March; the run happens at 03:30 CEST (01:30 UTC).
    expect(iso(nextScheduledRuns(berlin('30 2 * * *'), beforeSpring, 3))).toEqual([
      '2025-03-30T01:30:00.000Z',
      '2025-03-31T00:30:00.000Z',
      '2025-04-01T00:30:00.000Z',
    ]);
  });

  it('spring forward: hourly runs skip the missing hour', () => {
    expect(
      iso(nextScheduledRuns(berlin('0 * * * *'), new Date('2025-03-29T23:30:00Z'), 3)),
    ).toEqual([
      '2025-03-30T00:00:00.000Z', // 01:00 CET
      '2025-03-30T01:00:00.000Z', // 03:00 CEST (02:00 never happens)
      '2025-03-30T02:00:00.000Z', // 04:00 CEST
    ]);
  });

  it('spring forward: every-30-minute runs in the gap collapse into one at 03:00', () => {
    expect(
      iso(nextScheduledRuns(berlin('*/30 * * * *'), new Date('2025-03-30T00:15:00Z'), 3)),
    ).toEqual([
      '2025-03-30T00:30:00.000Z', // 01:30 CET
      '2025-03-30T01:00:00.000Z', // 03:00 CEST
      '2025-03-30T01:30:00.000Z', // 03:30 CEST
    ]);
  });

  it('fall back: a daily time inside the repeated hour runs once, in its second occurrence', () => {
    // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET); it runs at the second.
    expect(iso(nextScheduledRuns(berlin('30 2 * * *'), beforeFall, 2))).toEqual([
      '2025-10-26T01:30:00.000Z',
      '2025-10-27T01:30:00.000Z',
    ]);
  });

  it('fall back: hourly runs skip the first pass through the repeated hour', () => {
    expect(
      iso(nextScheduledRuns(berlin('0 * * * *'), new Date('2025-10-25T22:30:00Z'), 4)),
    ).toEqual([
      '2025-10-25T23:00:00.000Z', // 01:00 CEST
      '2025-10-26T01:00:00.000Z', // 02:00 CET; 02:00 CEST (00:00 UTC) does not run
      '2025-10-26T02:00:00.000Z', // 03:00 CET
      '2025-10-26T03:00:00.000Z', // 04:00 CET
    ]);
  });

  it('a time outside the change runs at its wall-clock time on both sides', () => {
    expect(iso(nextScheduledRuns(berlin('0 4 * * *'), beforeSpring, 2))).toEqual([
      '2025-03-30T02:00:00.000Z', // 04:00 CEST
      '2025-03-31T02:00:00.000Z',
    ]);
    expect(iso(nextScheduledRuns(berlin('0 4 * * *'), beforeFall, 2))).toEqual([
      '2025-10-26T03:00:00.000Z', // 04:00 CET
      '2025-10-27T03:00:00.000Z',
    ]);
  });

  it('UTC schedules are unaffected', () => {
    expect(iso(nextScheduledRuns({ cron: '30 1 * * *', timezone: 'UTC' }, beforeFall, 2))).toEqual([
      '2025-10-26T01:30:00.000Z',
      '2025-10-27T01:30:00.000Z',
    ]);
  });
});

describe('cronProblem', () => {
  it.each(['0 3 * * *', '*/15 * * * *', '0 0 3 * * *', '@daily', '0 0 29 2 *', '0 9 * * MON-FRI'])(
    'accepts %s',
    (expression) => {
      expect(cronProblem(expression)).toBeUndefined();
    },
  );

  it.each([
    ['* * *', 'exactly five or six'],
    ['* * * * * * *', 'exactly five or six'],
    ['61 * * * *', 'minute'],
    ['0 0 31 2 *', 'never fires'],
    ['', 'five or six'],
  ])('refuses %j', (expression, why) => {
    expect(cronProblem(expression)).toContain(why);
  });
});

describe('timezoneProblem', () => {
  it('accepts IANA names', () => {
    expect(timezoneProblem('UTC')).toBeUndefined();
    expect(timezoneProblem('Europe/Berlin')).toBeUndefined();
    expect(timezoneProblem('America/Argentina/Buenos_Aires')).toBeUndefined();
  });

  it('refuses unknown names with a suggestion', () => {
    expect(timezoneProblem('Europe/Berln')).toEqual({
      why: '`Europe/Berln` is not a known IANA timezone',
      suggestion: 'Europe/Berlin',
    });
    expect(timezoneProblem('Mars/Olympus')?.suggestion).toBeUndefined();
  });
});
