import { formatSize } from '../core/index.js';
import type { DrillResult, ObjectiveResult, PhaseTiming } from './types.js';

/**
 * Formatting shared by the drill evidence summary, the Markdown and HTML reports and the
 * history table, so every place shows a number the same way.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration for people: one decimal under a minute, then the two largest units.
 *
 * @example humanDuration(41_200) // '41.2 s'
 * @example humanDuration(7_381_700) // '2 h 3 m'
 * @example humanDuration(900_000) // '15 m'
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${humanDuration(-ms)}`;
  if (ms < SECOND) return `${Math.round(ms)} ms`;
  if (ms < MINUTE) {
    const tenths = Math.round(ms / 100) / 10;
    return tenths >= 60 ? '1 m' : `${tenths} s`;
  }
  const units: [string, number][] = [
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', SECOND],
  ];
  const start = units.findIndex(([, size]) => ms >= size);
  const [bigName, bigSize] = units[start] ?? ['s', SECOND];
  const [smallName, smallSize] = units[start + 1] ?? ['s', SECOND];
  const big = Math.floor(ms / bigSize);
  const small = Math.floor((ms - big * bigSize) / smallSize);
  return small === 0 ? `${big} ${bigName}` : `${big} ${bigName} ${small} ${smallName}`;
}

/**
 * A duration for a report: human, then the exact milliseconds.
 *
 * @example exactDuration(41_200) // '41.2 s (41200 ms)'
 */
export function exactDuration(ms: number): string {
  return ms < SECOND ? humanDuration(ms) : `${humanDuration(ms)} (${Math.round(ms)} ms)`;
}

/**
 * A measurement that may be missing: {@link humanDuration}, or `missing` for null.
 *
 * @default missing '—'
 * @example maybeDuration(null, '-') // '-'
 */
export function maybeDuration(ms: number | null | undefined, missing = '—'): string {
  return ms === null || ms === undefined ? missing : humanDuration(ms);
}

/** Bytes for people, tolerant of non-integers. */
export function humanBytes(bytes: number): string {
  return formatSize(Math.max(0, Math.round(bytes)));
}

/** The first 12 characters of a snapshot id, as `repo snapshots` shows them. */
export function id12(id: string): string {
  return id.slice(0, 12);
}

/** `met` / `MISSED` / `not measured` for an objective. */
export function objectiveState(objective: ObjectiveResult | undefined): string {
  if (objective === undefined) return 'no objective';
  if (objective.measuredMs === null) return 'not measured';
  return objective.met ? 'met' : 'MISSED';
}

/** Whether every objective of a drill was met (`null` when it has none). */
export function objectivesMet(result: DrillResult): boolean | null {
  const all = [result.objectives.rto, result.objectives.rpo].filter(
    (o): o is ObjectiveResult => o !== undefined,
  );
  return all.length === 0 ? null : all.every((o) => o.met);
}

/** One row of the drill timeline: a phase of a data store or of the service. */
export interface TimelineRow {
  /** The data store's name, or `service`. */
  readonly owner: string;
  readonly phase: PhaseTiming;
  /** The longest phase counted in the RTO (teardown excluded). */
  readonly slowest: boolean;
}

/**
 * Every phase of a drill in start order, the slowest step (teardown excluded, it is not part of
 * the RTO) marked.
 */
export function timelineRows(result: DrillResult): TimelineRow[] {
  const rows = [
    ...result.datastores.flatMap((store) =>
      store.phases.map((phase) => ({ owner: store.name, phase })),
    ),
    ...(result.service?.phases ?? []).map((phase) => ({ owner: 'service', phase })),
  ].sort((a, b) => a.phase.startMs - b.phase.startMs || a.phase.endMs - b.phase.endMs);
  let slowest = -1;
  rows.forEach((row, index) => {
    if (row.phase.phase === 'teardown') return;
    const best = rows[slowest];
    if (best === undefined || row.phase.durationMs > best.phase.durationMs) slowest = index;
  });
  return rows.map((row, index) => ({ ...row, slowest: index === slowest }));
}

/** The one-line verdict of a drill, e.g. `PASSED`, `FAILED`, `ERROR (interrupted)`. */
export function verdictLabel(result: DrillResult): string {
  const label = result.verdict.toUpperCase();
  return result.interrupted === true ? `${label} (interrupted)` : label;
}
