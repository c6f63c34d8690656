import { Cron } from 'croner';
import { didYouMean } from '../core/index.js';

/** What a cron expression looks like, for error messages. */
export const CRON_EXPECTED =
  'a cron expression with 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), or @hourly/@daily/@weekly/@monthly/@yearly';

/** What a timezone looks like, for error messages. */
export const TIMEZONE_EXPECTED =
  'an IANA timezone such as `UTC`, `Europe/Berlin` or `America/New_York`';

/**
 * Why `expression` is not a usable cron schedule, or `undefined` when it is. Parsing is
 * croner's (the same library runs the schedule), plus a check that it ever fires, so that
 * `0 0 31 2 *` (February 31st) is refused instead of silently never backing up.
 */
export function cronProblem(expression: string): string | undefined {
  let job: Cron;
  try {
    job = new Cron(expression, { paused: true, timezone: 'UTC' });
  } catch (error) {
    return (error instanceof Error ? error.message : String(error))
      .replace(/^CronPattern: /, '')
      .replace(/^invalid configuration format \(.*\), /, '')
      .replace(/\.$/, '');
  }
  return job.nextRun() === null ? 'it never fires (no date matches it)' : undefined;
}

let zones: string[] | undefined;

/** Why `timezone` is not a usable IANA timezone (with a suggestion), or `undefined`. */
export function timezoneProblem(
  timezone: string,
): { why: string; suggestion?: string } | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    zones ??= ['UTC', ...Intl.supportedValuesOf('timeZone')];
    const suggestion = didYouMean(timezone, zones);
    return {
      why: `\`${timezone}\` is not a known IANA timezone`,
      ...(suggestion === undefined ? {} : { suggestion }),
    };
  }
}

/** A backup schedule as it appears in a parsed spec. */
export interface CronSchedule {
  cron: string;
  timezone: string;
}

/**
 * The next `count` times `schedule` fires strictly after `after`. Wall-clock times are in the
 * schedule's timezone; around DST changes croner runs a time that falls in a spring-forward
 * gap once, shifted forward by the gap, and a time in a fall-back overlap once, in its second
 * (standard-time) occurrence — see docs/spec.md, "Schedules and daylight saving time".
 */
export function nextScheduledRuns(schedule: CronSchedule, after: Date, count: number): Date[] {
  const job = new Cron(schedule.cron, { paused: true, timezone: schedule.timezone });
  return job.nextRuns(count, after);
}
