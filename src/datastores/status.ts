import { formatDuration } from '../core/index.js';
import { nextScheduledRuns, type Datastore, type Spec } from '../spec/index.js';
import type { LedgerRecord } from '../ledger/index.js';

import { specDatastore } from './run.js';

/** What `backup status` says about one data store, from worst to best. */
export const BACKUP_STATES = ['failed', 'never', 'rpo-at-risk', 'late', 'ok'] as const;
export type BackupState = (typeof BACKUP_STATES)[number];

/** States that make `backup status` exit with ExitCode.rpoAtRisk (18). */
export const ALERTING_STATES: readonly BackupState[] = ['failed', 'never', 'rpo-at-risk'];

/** The subject `backup` gate results of a data store are recorded under. */
export function backupSubject(datastore: string): string {
  return `datastore:${datastore}`;
}

/** One `backup` gate result, as far as freshness is concerned. */
export interface BackupAttempt {
  readonly seq: number;
  readonly outcome: 'passed' | 'failed' | 'error';
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /**
   * The moment the backed-up data is consistent as of: the consistent point's source time when
   * the driver reported one, else the start of the run (the data cannot be newer than that).
   */
  readonly dataTime: Date;
  readonly environment: string | undefined;
  readonly snapshotId: string | undefined;
  /** Error code of a failed run. */
  readonly errorCode: string | undefined;
}

/** The ledger's facts about one data store's backups: its newest attempt and newest success. */
export interface BackupFacts {
  readonly lastAttempt: BackupAttempt | undefined;
  readonly lastSuccess: BackupAttempt | undefined;
}

export const NO_BACKUP_FACTS: BackupFacts = { lastAttempt: undefined, lastSuccess: undefined };

function stringAt(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = (value as Record<string, unknown>)[key];
  return typeof found === 'string' ? found : undefined;
}

/**
 * The freshness facts of one `backup` gate-result record, or undefined for any other record.
 * Records must be folded in ascending seq order (see {@link foldBackupRecord}).
 */
export function backupAttemptOf(record: LedgerRecord): BackupAttempt | undefined {
  if (record.kind !== 'gate-result' || record.body.gate !== 'backup') return undefined;
  const { body } = record;
  const details = body.details ?? {};
  const startedAt = new Date(body.startedAt);
  const sourceTime = stringAt(details.consistentPoint, 'sourceTime');
  const parsed = sourceTime === undefined ? Number.NaN : Date.parse(sourceTime);
  const error = details.error;
  return {
    seq: record.seq,
    outcome: body.outcome,
    startedAt,
    finishedAt: new Date(body.finishedAt),
    dataTime: Number.isFinite(parsed) ? new Date(parsed) : startedAt,
    environment: stringAt(details, 'environment'),
    snapshotId: stringAt(details, 'snapshotId'),
    errorCode: stringAt(error, 'code'),
  };
}

/**
 * Folds one ledger record (ascending seq) into a data store's facts. `environment` keeps only
 * runs against that environment. The one place both `backup status` and `/metrics` read a
 * backup result.
 */
export function foldBackupRecord(
  facts: BackupFacts,
  record: LedgerRecord,
  environment?: string,
): BackupFacts {
  const attempt = backupAttemptOf(record);
  if (attempt === undefined) return facts;
  if (environment !== undefined && attempt.environment !== environment) return facts;
  if (facts.lastAttempt !== undefined && facts.lastAttempt.seq > attempt.seq) return facts;
  return {
    lastAttempt: attempt,
    lastSuccess: attempt.outcome === 'passed' ? attempt : facts.lastSuccess,
  };
}

/** The schedule part of a status: when runs were and are due. */
export interface ScheduleStatus {
  readonly cron: string;
  readonly timezone: string;
  /** Gap between two consecutive fire times around the one that matters (seconds). */
  readonly intervalSeconds: number;
  /** The first fire time after the newest successful backup started; null before any. */
  readonly dueAfterLastSuccess: string | null;
  /** The next fire time after now. */
  readonly next: string | null;
}

/** `backup status` for one data store; the same object feeds the `/metrics` gauges. */
export interface DatastoreBackupStatus {
  readonly datastore: string;
  readonly kind: string;
  readonly status: BackupState;
  /** The status makes `backup status` exit 18 (failed, never, rpo-at-risk). */
  readonly alerting: boolean;
  /** The newest backup is older than the RPO objective, or there is none and an RPO is set. */
  readonly rpoAtRisk: boolean;
  /** One sentence saying why. */
  readonly reason: string;
  readonly lastSuccess: {
    readonly seq: number;
    readonly finishedAt: string;
    /** When the backed-up data is consistent as of (see {@link BackupAttempt.dataTime}). */
    readonly dataTime: string;
    readonly snapshotId: string | null;
    readonly environment: string | null;
  } | null;
  readonly lastAttempt: {
    readonly seq: number;
    readonly outcome: string;
    readonly finishedAt: string;
    readonly errorCode: string | null;
  } | null;
  /** Seconds from the newest backup's data time to now; null before any. */
  readonly ageSeconds: number | null;
  /** `objectives.rpo` in seconds; null when the spec sets none. */
  readonly rpoSeconds: number | null;
  readonly schedule: ScheduleStatus | null;
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000));
}

function scheduleStatus(
  schedule: NonNullable<Datastore['schedule']>,
  lastSuccess: BackupAttempt | undefined,
  now: Date,
): { status: ScheduleStatus; late: boolean } {
  const [next, afterNext] = nextScheduledRuns(schedule, now, 2);
  if (lastSuccess === undefined) {
    const interval =
      next !== undefined && afterNext !== undefined ? afterNext.getTime() - next.getTime() : 0;
    return {
      status: {
        cron: schedule.cron,
        timezone: schedule.timezone,
        intervalSeconds: seconds(interval),
        dueAfterLastSuccess: null,
        next: next?.toISOString() ?? null,
      },
      late: false,
    };
  }
  // The run due after the newest success had until the following fire time to succeed.
  const [due, deadline] = nextScheduledRuns(schedule, lastSuccess.startedAt, 2);
  const interval =
    due !== undefined && deadline !== undefined ? deadline.getTime() - due.getTime() : 0;
  return {
    status: {
      cron: schedule.cron,
      timezone: schedule.timezone,
      intervalSeconds: seconds(interval),
      dueAfterLastSuccess: due?.toISOString() ?? null,
      next: next?.toISOString() ?? null,
    },
    late: deadline !== undefined && deadline.getTime() <= now.getTime(),
  };
}

/**
 * The backup status of spec data store `name` at `now`, from its ledger facts:
 *
 * - `failed`: the newest run failed;
 * - `never`: no run was ever recorded;
 * - `rpo-at-risk`: the newest successful backup's data is older than `objectives.rpo`;
 * - `late`: the schedule fired twice since the newest success started (a scheduled run was
 *   missed), while the RPO still holds;
 * - `ok`: otherwise.
 *
 * Pure: the clock is a parameter, so tests and `/metrics` give the same answer for the same
 * facts.
 */
export function datastoreBackupStatus(
  name: string,
  datastore: Datastore,
  facts: BackupFacts,
  now: Date,
): DatastoreBackupStatus {
  const { lastAttempt, lastSuccess } = facts;
  const rpoMs = datastore.objectives?.rpo;
  const ageMs =
    lastSuccess === undefined ? undefined : now.getTime() - lastSuccess.dataTime.getTime();
  const schedule =
    datastore.schedule === undefined
      ? undefined
      : scheduleStatus(datastore.schedule, lastSuccess, now);
  const rpoAtRisk = rpoMs !== undefined && (ageMs === undefined ? true : ageMs > rpoMs);

  let status: BackupState;
  let reason: string;
  if (lastAttempt !== undefined && lastAttempt.outcome !== 'passed') {
    status = 'failed';
    reason = `the newest backup (ledger #${lastAttempt.seq}) failed${lastAttempt.errorCode === undefined ? '' : ` with ${lastAttempt.errorCode}`}`;
  } else if (lastSuccess === undefined) {
    status = 'never';
    reason = 'no backup has been recorded';
  } else if (rpoMs !== undefined && ageMs !== undefined && ageMs > rpoMs) {
    status = 'rpo-at-risk';
    reason = `the newest backup is ${formatAge(ageMs)} old, more than the RPO of ${formatAge(rpoMs)}`;
  } else if (schedule?.late === true) {
    status = 'late';
    reason = `the run due at ${schedule.status.dueAfterLastSuccess ?? '?'} did not succeed`;
  } else {
    status = 'ok';
    reason =
      rpoMs === undefined
        ? 'the newest backup succeeded (no RPO objective set)'
        : `the newest backup is within the RPO of ${formatAge(rpoMs)}`;
  }

  return {
    datastore: name,
    kind: datastore.kind,
    status,
    alerting: ALERTING_STATES.includes(status),
    rpoAtRisk,
    reason,
    lastSuccess:
      lastSuccess === undefined
        ? null
        : {
            seq: lastSuccess.seq,
            finishedAt: lastSuccess.finishedAt.toISOString(),
            dataTime: lastSuccess.dataTime.toISOString(),
            snapshotId: lastSuccess.snapshotId ?? null,
            environment: lastSuccess.environment ?? null,
          },
    lastAttempt:
      lastAttempt === undefined
        ? null
        : {
            seq: lastAttempt.seq,
            outcome: lastAttempt.outcome,
            finishedAt: lastAttempt.finishedAt.toISOString(),
            errorCode: lastAttempt.errorCode ?? null,
          },
    ageSeconds: ageMs === undefined ? null : seconds(ageMs),
    rpoSeconds: rpoMs === undefined ? null : seconds(rpoMs),
    schedule: schedule?.status ?? null,
  };
}

/** A non-negative age for messages, to the second: `1d2h`, `6h`, `12s`. */
function formatAge(ms: number): string {
  return formatDuration(Math.max(0, Math.round(ms / 1000)) * 1000);
}

/** The ledger part {@link readBackupFacts} and {@link backupRecords} need. */
export interface BackupLedgerSource {
  list(options: {
    afterSeq?: number;
    gate?: string;
    subject?: string;
    order?: 'asc' | 'desc';
    limit?: number;
  }): Promise<LedgerRecord[]>;
}

/**
 * One data store's `backup` gate results in the ledger, oldest first, read page by page.
 *
 * @example
 * for await (const record of backupRecords(ledger, 'orders')) console.log(record.seq);
 */
export async function* backupRecords(
  ledger: BackupLedgerSource,
  datastore: string,
): AsyncGenerator<LedgerRecord, void, undefined> {
  const page = 1000;
  let afterSeq = 0;
  for (;;) {
    const records = await ledger.list({
      afterSeq,
      gate: 'backup',
      subject: backupSubject(datastore),
      order: 'asc',
      limit: page,
    });
    for (const record of records) {
      afterSeq = Math.max(afterSeq, record.seq);
      yield record;
    }
    if (records.length < page) return;
  }
}

/** Reads one data store's facts from the ledger (its `backup` gate results, oldest first). */
export async function readBackupFacts(
  ledger: BackupLedgerSource,
  datastore: string,
  environment?: string,
): Promise<BackupFacts> {
  let facts = NO_BACKUP_FACTS;
  for await (const record of backupRecords(ledger, datastore)) {
    facts = foldBackupRecord(facts, record, environment);
  }
  return facts;
}

/** Options of {@link backupStatusReport}. */
export interface BackupStatusOptions {
  /** Data stores to report (default: all in the spec, in spec order). */
  readonly names?: readonly string[];
  /** Only count runs against this environment. */
  readonly environment?: string;
  /** @default new Date() */
  readonly now?: Date;
}

/**
 * `backup status` for the spec's data stores, read from the evidence ledger. Unknown names are
 * `SHIP_SPEC_UNKNOWN_REFERENCE` (exit 2).
 */
export async function backupStatusReport(
  spec: Spec,
  ledger: BackupLedgerSource,
  options: BackupStatusOptions = {},
): Promise<DatastoreBackupStatus[]> {
  const names =
    options.names !== undefined && options.names.length > 0
      ? options.names
      : Object.keys(spec.datastores);
  const now = options.now ?? new Date();
  const statuses: DatastoreBackupStatus[] = [];
  for (const name of names) {
    const datastore = specDatastore(spec, name);
    const facts = await readBackupFacts(ledger, name, options.environment);
    statuses.push(datastoreBackupStatus(name, datastore, facts, now));
  }
  return statuses;
}
