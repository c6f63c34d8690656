/**
 * Retention policies (pure): which snapshots a `keep-*` policy keeps, and why. Modelled on
 * restic's `forget`: within each group, snapshots are visited newest first; `last N` keeps the
 * N newest; each calendar rule (`hourly`, `daily`, `weekly`, `monthly`, `yearly`) keeps the
 * newest snapshot of each of its N most recent buckets that hold a snapshot; `within D` keeps
 * everything up to D older than the group's newest snapshot; `tags` keeps snapshots carrying
 * any of the tags. A snapshot is kept when any rule keeps it, and the result lists every rule
 * that did.
 */
import { ShipError, formatDuration } from '../core/index.js';

/** A retention policy; counts are whole numbers ≥ 0 (0 or absent = rule off). */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Keep every snapshot at most this many milliseconds older than the group's newest. */
  keepWithinMs?: number;
  /** Keep every snapshot carrying any of these tags. */
  keepTags?: readonly string[];
}

/** How snapshots are grouped before the policy applies to each group separately. */
export const GroupBy = {
  /** By source: type and name (the default). */
  source: 'source',
  /** By host, then source. */
  hostSource: 'host,source',
  /** One group of every snapshot. */
  none: 'none',
} as const;
export type GroupBy = (typeof GroupBy)[keyof typeof GroupBy];
/** All grouping modes. */
export const GROUP_BY_VALUES: readonly GroupBy[] = Object.freeze(Object.values(GroupBy));

/** What the policy needs of a snapshot. */
export interface RetentionSnapshot {
  readonly id: string;
  /** ISO 8601 time of the snapshot. */
  readonly time: string;
  readonly host: string;
  readonly source: { readonly type: string; readonly name?: string };
  readonly tags: readonly string[];
}

/** The verdict on one snapshot. */
export interface RetentionDecision {
  readonly id: string;
  readonly time: string;
  /** The group the policy was applied in (e.g. `stream:orders`). */
  readonly group: string;
  readonly keep: boolean;
  /** Every rule that keeps it (`last 3`, `daily 2026-11-20`, `within 7d`, `tag nightly`). */
  readonly reasons: readonly string[];
}

/** Options for {@link applyRetention}. */
export interface RetentionOptions {
  /** IANA time zone the calendar buckets are cut in. @default 'UTC' */
  timeZone?: string;
  /** @default 'source' */
  groupBy?: GroupBy;
}

const COUNT_RULES = [
  'keepLast',
  'keepHourly',
  'keepDaily',
  'keepWeekly',
  'keepMonthly',
  'keepYearly',
] as const;

type Bucketing = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

const BUCKET_RULES: readonly [Bucketing, keyof RetentionPolicy][] = [
  ['hourly', 'keepHourly'],
  ['daily', 'keepDaily'],
  ['weekly', 'keepWeekly'],
  ['monthly', 'keepMonthly'],
  ['yearly', 'keepYearly'],
];

/**
 * Checks a policy: counts are whole numbers ≥ 0, `keepWithinMs` ≥ 0, and at least one rule is
 * on. An empty policy would remove every snapshot, so it is refused
 * (`SHIP_REPO_EMPTY_POLICY`, exit 2).
 */
export function validatePolicy(policy: RetentionPolicy): void {
  for (const rule of COUNT_RULES) {
    const value = policy[rule];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw ShipError.usage(
        'SHIP_REPO_BAD_POLICY',
        `${flagOf(rule)} ${String(value)} is not a whole number ≥ 0`,
        { hint: `e.g. ${flagOf(rule)} 7` },
      );
    }
  }
  const within = policy.keepWithinMs;
  if (within !== undefined && !(Number.isFinite(within) && within >= 0)) {
    throw ShipError.usage('SHIP_REPO_BAD_POLICY', `--keep-within must be a duration ≥ 0`, {
      hint: 'e.g. --keep-within 30d',
    });
  }
  const on =
    COUNT_RULES.some((rule) => (policy[rule] ?? 0) > 0) ||
    (within ?? 0) > 0 ||
    (policy.keepTags ?? []).length > 0;
  if (!on) {
    throw ShipError.usage(
      'SHIP_REPO_EMPTY_POLICY',
      'the retention policy keeps nothing, so it would remove every snapshot',
      {
        hint: 'give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within; to remove given snapshots, name them: `repo forget ID…`',
      },
    );
  }
}

/**
 * Applies `policy` to `snapshots`, per group. Returns one decision per snapshot, newest first
 * within each group, groups in order of their name.
 *
 * @example
 * applyRetention(snapshots, { keepDaily: 7, keepWeekly: 4 }, { timeZone: 'Europe/Berlin' })
 */
export function applyRetention(
  snapshots: readonly RetentionSnapshot[],
  policy: RetentionPolicy,
  options: RetentionOptions = {},
): RetentionDecision[] {
  validatePolicy(policy);
  const timeZone = options.timeZone ?? 'UTC';
  const calendar = calendarOf(timeZone);
  const groupBy = options.groupBy ?? GroupBy.source;
  const groups = new Map<string, RetentionSnapshot[]>();
  for (const snapshot of snapshots) {
    const group = groupOf(snapshot, groupBy);
    const members = groups.get(group);
    if (members === undefined) groups.set(group, [snapshot]);
    else members.push(snapshot);
  }
  const decisions: RetentionDecision[] = [];
  for (const group of [...groups.keys()].sort()) {
    const members = [...(groups.get(group) ?? [])].sort(
      (a, b) => Date.parse(b.time) - Date.parse(a.time) || b.id.localeCompare(a.id),
    );
    const reasons = new Map<string, string[]>(members.map((s) => [s.id, []]));
    const add = (id: string, reason: string) => reasons.get(id)?.push(reason);

    const last = policy.keepLast ?? 0;
    members.slice(0, last).forEach((s) => {
      add(s.id, `last ${last}`);
    });
    for (const [bucketing, rule] of BUCKET_RULES) {
      let left = (policy[rule] as number | undefined) ?? 0;
      let previous: string | undefined;
      for (const s of members) {
        if (left === 0) break;
        const bucket = calendar(new Date(s.time), bucketing);
        if (bucket === previous) continue;
        previous = bucket;
        add(s.id, `${bucketing} ${bucket}`);
        left--;
      }
    }
    const within = policy.keepWithinMs ?? 0;
    const newest = members[0];
    if (within > 0 && newest !== undefined) {
      const since = Date.parse(newest.time) - within;
      for (const s of members) {
        if (Date.parse(s.time) >= since) add(s.id, `within ${formatDuration(within)}`);
      }
    }
    for (const tag of policy.keepTags ?? []) {
      for (const s of members) if (s.tags.includes(tag)) add(s.id, `tag ${tag}`);
    }
    for (const s of members) {
      const why = reasons.get(s.id) ?? [];
      decisions.push({ id: s.id, time: s.time, group, keep: why.length > 0, reasons: why });
    }
  }
  return decisions;
}

/** The group a snapshot belongs to. */
export function groupOf(snapshot: RetentionSnapshot, groupBy: GroupBy): string {
  const source = `${snapshot.source.type}:${snapshot.source.name ?? ''}`;
  switch (groupBy) {
    case GroupBy.source:
      return source;
    case GroupBy.hostSource:
      return `${snapshot.host} ${source}`;
    case GroupBy.none:
      return '';
  }
}

/**
 * A function naming the calendar bucket of an instant in `timeZone`: `2026-11-20T14` (hour),
 * `2026-11-20` (day), `2026-W47` (ISO week), `2026-11` (month), `2026` (year). Buckets follow
 * the local wall clock: across a DST change a day has 23 or 25 hours, and the repeated hour of
 * a fall-back night is one bucket. Refuses an unknown zone (`SHIP_REPO_BAD_TIME_ZONE`, exit 2).
 */
export function calendarOf(timeZone: string): (at: Date, bucketing: Bucketing) => string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
    });
  } catch {
    throw ShipError.usage('SHIP_REPO_BAD_TIME_ZONE', `"${timeZone}" is not a known time zone`, {
      hint: 'use an IANA time zone name such as UTC, Europe/Berlin or America/New_York',
    });
  }
  return (at, bucketing) => {
    const parts = new Map(format.formatToParts(at).map((p) => [p.type, p.value]));
    const year = Number(parts.get('year'));
    const month = Number(parts.get('month'));
    const day = Number(parts.get('day'));
    const hour = Number(parts.get('hour'));
    const yyyy = String(year).padStart(4, '0');
    const mm = String(month).padStart(2, '0');
    const dd = String(day).padStart(2, '0');
    switch (bucketing) {
      case 'hourly':
        return `${yyyy}-${mm}-${dd}T${String(hour).padStart(2, '0')}`;
      case 'daily':
        return `${yyyy}-${mm}-${dd}`;
      case 'weekly': {
        const { weekYear, week } = isoWeek(year, month, day);
        return `${String(weekYear).padStart(4, '0')}-W${String(week).padStart(2, '0')}`;
      }
      case 'monthly':
        return `${yyyy}-${mm}`;
      case 'yearly':
        return yyyy;
    }
  };
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the first Thursday. */
export function isoWeek(
  year: number,
  month: number,
  day: number,
): { weekYear: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() === 0 ? 7 : date.getUTCDay();
  // The Thursday of this week decides the year the week belongs to.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const weekYear = date.getUTCFullYear();
  const firstDay = Date.UTC(weekYear, 0, 1);
  const week = Math.floor((date.getTime() - firstDay) / 86_400_000 / 7) + 1;
  return { weekYear, week };
}

function flagOf(rule: (typeof COUNT_RULES)[number]): string {
  return `--keep-${rule.slice(4).toLowerCase()}`;
}
