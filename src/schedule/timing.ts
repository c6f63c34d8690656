import { Cron } from 'croner';

/** When a job falls due. Both methods are pure functions of their arguments. */
export interface Timing {
  /** The first due time strictly after `after`, if any. */
  next(after: Date): Date | undefined;
  /** The latest due time in (`after`, `upTo`] (`after` absent: no lower bound), if any. */
  latest(after: Date | undefined, upTo: Date): Date | undefined;
  /** For messages: `cron 0 3 * * * (Europe/Berlin)` or `every 24h`. */
  readonly describe: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How far back `latest` looks when it has no lower bound: widening windows, then give up. */
const WINDOWS = [HOUR, DAY, 32 * DAY, 367 * DAY, 5 * 366 * DAY];

/**
 * A cron expression read in `timezone`, with croner's daylight-saving behaviour (pinned in
 * src/spec/schedule.test.ts and docs/spec.md): a time in a spring-forward gap runs once, moved
 * forward; a time in a fall-back overlap runs once.
 */
export function cronTiming(cron: string, timezone: string): Timing {
  const job = new Cron(cron, { paused: true, timezone });
  const next = (after: Date): Date | undefined => job.nextRun(after) ?? undefined;
  const scan = (from: Date, upTo: Date): Date | undefined => {
    let last: Date | undefined;
    for (let t = next(from); t !== undefined && t.getTime() <= upTo.getTime(); t = next(t)) {
      last = t;
    }
    return last;
  };
  return {
    describe: `cron ${cron} (${timezone})`,
    next,
    latest(after, upTo) {
      if (after !== undefined && after.getTime() >= upTo.getTime()) return undefined;
      for (const window of WINDOWS) {
        const start = upTo.getTime() - window;
        if (after !== undefined && after.getTime() >= start) return scan(after, upTo);
        const found = scan(new Date(start), upTo);
        if (found !== undefined) return found;
      }
      return after === undefined ? undefined : scan(after, upTo);
    },
  };
}

/** Every `everyMs`, aligned to the Unix epoch so that every scheduler agrees on the due times. */
export function intervalTiming(everyMs: number, describe: string): Timing {
  const floor = (at: Date): number => Math.floor(at.getTime() / everyMs) * everyMs;
  return {
    describe,
    next: (after) => new Date(floor(after) + everyMs),
    latest(after, upTo) {
      const due = floor(upTo);
      return after !== undefined && due <= after.getTime() ? undefined : new Date(due);
    },
  };
}
