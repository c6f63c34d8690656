import {
  ExitCode,
  ShipError,
  formatDuration,
  isShipError,
  isSimulatedCrash,
} from '../core/index.js';
import {
  backupEvidence,
  backupSubject,
  runDatastoreBackup,
  specDatastore,
  withDatastoreRepository,
  type BackupRunResult,
} from '../datastores/index.js';
import { DrillClock, drillExitCode, executeDrill, planIsolatedDrill } from '../drill/index.js';
import type { EvidenceLedger } from '../ledger/index.js';
import type { RetentionPolicy } from '../repo/index.js';
import type { Datastore, Spec } from '../spec/index.js';

import { systemClock, type Clock } from './clock.js';
import type { AttemptResult, ScheduledJob } from './scheduler.js';
import { cronTiming, intervalTiming } from './timing.js';

/** Where scheduled jobs find the spec, secrets and the ledger. */
export interface JobContext {
  readonly spec: Spec;
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Connection environment for data stores with several connections. */
  readonly environment?: string;
  /** Only these data stores (default: every one with a `schedule`). */
  readonly datastores?: readonly string[];
  /** How often each repository used by a scheduled data store is pruned. */
  readonly pruneEveryMs: number;
  /** The ledger `backup` results go to (as `backup run` records them). */
  readonly evidence: () => Promise<EvidenceLedger>;
  /** Clock for waits on a locked repository. @default systemClock */
  readonly clock?: Clock;
  /** Called when a result could not be recorded (the run still counts). */
  readonly onNote?: (note: string) => void;
}

/** The spec's retention block as a repository policy; undefined when it keeps nothing. */
export function retentionPolicy(datastore: Datastore): RetentionPolicy | undefined {
  const r = datastore.retention;
  if (r === undefined) return undefined;
  const policy: RetentionPolicy = {
    ...(r.keep_last === undefined ? {} : { keepLast: r.keep_last }),
    ...(r.keep_hourly === undefined ? {} : { keepHourly: r.keep_hourly }),
    ...(r.keep_daily === undefined ? {} : { keepDaily: r.keep_daily }),
    ...(r.keep_weekly === undefined ? {} : { keepWeekly: r.keep_weekly }),
    ...(r.keep_monthly === undefined ? {} : { keepMonthly: r.keep_monthly }),
    ...(r.keep_yearly === undefined ? {} : { keepYearly: r.keep_yearly }),
    ...(r.keep_within === undefined ? {} : { keepWithinMs: r.keep_within }),
  };
  return Object.values(policy).some((v) => v !== undefined && v !== 0) ? policy : undefined;
}

function environmentOf(name: string, datastore: Datastore, wanted: string | undefined): string {
  const environments = Object.keys(datastore.connection);
  if (wanted !== undefined) {
    if (datastore.connection[wanted] === undefined) {
      throw ShipError.usage(
        'SHIP_DATASTORE_NO_CONNECTION',
        `data store ${name} has no connection for environment ${wanted}`,
        {
          details: { datastore: name, environment: wanted, environments },
          hint: `add \`datastores.${name}.connection.${wanted}\`, or leave ${name} out of the schedule`,
        },
      );
    }
    return wanted;
  }
  const only = environments.length === 1 ? environments[0] : undefined;
  if (only === undefined) {
    throw ShipError.usage(
      'SHIP_DATASTORE_ENVIRONMENT_REQUIRED',
      `data store ${name} has connections for ${environments.join(', ')}: say which to schedule`,
      { hint: `pass --env ${environments[0] ?? 'production'}` },
    );
  }
  return only;
}

function errorOf(error: unknown): ShipError {
  if (isShipError(error)) return error;
  return ShipError.runtime(
    'SHIP_INTERNAL',
    `internal error: ${error instanceof Error ? error.message : String(error)}`,
  );
}

async function record(context: JobContext, result: BackupRunResult): Promise<number | undefined> {
  try {
    const evidence = await context.evidence();
    const entry = await evidence.record({
      kind: 'gate-result',
      subject: backupSubject(result.datastore).slice(0, 256),
      body: backupEvidence(result),
    });
    return entry.seq;
  } catch (error) {
    if (isSimulatedCrash(error)) throw error;
    context.onNote?.(
      `the backup of ${result.datastore} could not be recorded in the ledger: ${errorOf(error).message}`,
    );
    return undefined;
  }
}

/** Waits before each retry of an operation that met a live repository lock (30 s in all). */
const LOCK_WAITS_MS = [2_000, 4_000, 8_000, 16_000];

/**
 * Runs `fn`, and again after a wait while it fails with `SHIP_REPO_LOCKED`: retention runs
 * right after a backup, and may meet another scheduler's prune holding the exclusive lock.
 */
async function whileLocked<T>(clock: Clock, fn: () => Promise<T>): Promise<T> {
  for (const wait of LOCK_WAITS_MS) {
    try {
      return await fn();
    } catch (error) {
      if (!isShipError(error) || error.code !== 'SHIP_REPO_LOCKED') throw error;
      await clock.sleep(wait);
    }
  }
  return fn();
}

/** A scheduled backup: `backup run` for one data store, then its retention policy. */
function backupJob(
  name: string,
  datastore: Datastore & { schedule: NonNullable<Datastore['schedule']> },
  environment: string,
  context: JobContext,
): ScheduledJob {
  const { schedule } = datastore;
  const policy = retentionPolicy(datastore);
  const repoContext = { spec: context.spec, baseDir: context.baseDir, env: context.env };
  return {
    id: `backup:${name}`,
    kind: 'backup',
    environment,
    timing: cronTiming(schedule.cron, schedule.timezone),
    async run({ attempt }): Promise<AttemptResult> {
      const result = await runDatastoreBackup(name, {
        ...repoContext,
        environment,
        tags: ['scheduled'],
      });
      const seq = await record(context, result);
      const where = { datastore: name, attempt, ...(seq === undefined ? {} : { ledgerSeq: seq }) };
      if (!result.ok) return { ok: false, error: result.error, details: where };
      const snapshot = result.outcome.snapshot.snapshotId;
      if (policy === undefined) {
        return {
          ok: true,
          summary: `backup of ${name} → snapshot ${snapshot.slice(0, 12)}`,
          details: { ...where, snapshotId: snapshot, retention: null },
        };
      }
      // The backup is done and recorded: a retention failure is reported, never retried as a
      // backup (that would take another snapshot).
      let retention: Record<string, unknown>;
      try {
        const forgotten = await whileLocked(context.clock ?? systemClock, () =>
          withDatastoreRepository(name, repoContext, (repo) =>
            repo.forget({ policy, source: name, timeZone: schedule.timezone }),
          ),
        );
        retention = {
          removed: forgotten.removed,
          kept: forgotten.plan.filter((d) => d.keep).length,
        };
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        const e = errorOf(error);
        retention = { error: { code: e.code, message: e.message } };
        context.onNote?.(`retention for ${name} failed: ${e.code}: ${e.message}`);
      }
      const removed = Array.isArray(retention.removed) ? retention.removed.length : 0;
      return {
        ok: true,
        summary:
          `backup of ${name} → snapshot ${snapshot.slice(0, 12)}` +
          ('error' in retention ? ', retention failed' : `, retention forgot ${removed}`),
        details: { ...where, snapshotId: snapshot, retention },
      };
    },
  };
}

/** A scheduled prune of one repository (through the first scheduled data store using it). */
function pruneJob(repository: string, datastore: string, context: JobContext): ScheduledJob {
  const repoContext = { spec: context.spec, baseDir: context.baseDir, env: context.env };
  return {
    id: `prune:${repository}`,
    kind: 'prune',
    environment: '',
    timing: intervalTiming(context.pruneEveryMs, `every ${formatDuration(context.pruneEveryMs)}`),
    async run(): Promise<AttemptResult> {
      const result = await whileLocked(context.clock ?? systemClock, () =>
        withDatastoreRepository(datastore, repoContext, (repo) => repo.prune()),
      );
      return {
        ok: true,
        summary: `prune of repository ${repository}`,
        details: { repository, ...result },
      };
    },
  };
}

/**
 * A scheduled DR drill (`drill.schedule`): `drill run` with the spec's settings. A drill that ran
 * and failed is a failed run that is not retried (it would fail the same way); a drill that could
 * not run (a tool missing, a server down) is retried.
 */
function drillJob(
  schedule: NonNullable<NonNullable<Spec['drill']>['schedule']>,
  context: JobContext,
): ScheduledJob {
  const drillContext = { spec: context.spec, baseDir: context.baseDir, env: context.env };
  const environment = context.spec.drill?.environment ?? context.environment ?? '';
  return {
    id: 'drill',
    kind: 'drill',
    environment,
    timing: cronTiming(schedule.cron, schedule.timezone),
    async run({ attempt }): Promise<AttemptResult> {
      const evidence = await context.evidence();
      // The RTO clock starts now: the disaster is declared, planning is part of recovery.
      const clock = new DrillClock();
      const prepared = await planIsolatedDrill(drillContext, evidence, {
        ...(environment === '' ? {} : { environment }),
      });
      const executed = await executeDrill(prepared, drillContext, evidence, {
        clock,
        ...(context.spec.drill === undefined ? {} : { validForMs: context.spec.drill.valid_for }),
      });
      if (executed.recordNote !== undefined) {
        context.onNote?.(`drill ${prepared.plan.id} could not be recorded: ${executed.recordNote}`);
      }
      const { result } = executed;
      const details = {
        drill: prepared.plan.id,
        attempt,
        verdict: result.verdict,
        rtoMs: result.rtoMs,
        rpoMs: result.rpoMs,
        report: executed.dir,
        ...(executed.recorded === undefined ? {} : { ledgerSeq: executed.recorded.seq }),
      };
      const rto =
        result.rtoMs === null ? 'not recovered' : `RTO ${formatDuration(Math.round(result.rtoMs))}`;
      if (result.verdict === 'passed') {
        return { ok: true, summary: `drill ${prepared.plan.id} passed: ${rto}`, details };
      }
      const exitCode = drillExitCode(result);
      return {
        ok: false,
        error: new ShipError(
          result.verdict === 'failed' ? 'SHIP_DRILL_FAILED' : 'SHIP_DRILL_ERROR',
          `drill ${prepared.plan.id} ${result.verdict}: ${result.reasons[0] ?? 'see the report'}`,
          {
            exitCode: exitCode === ExitCode.ok ? ExitCode.gateFailed : exitCode,
            hint: `read the report: ${executed.dir}/report.md`,
          },
        ),
        details,
      };
    },
  };
}

/**
 * The jobs of a spec: one backup per data store with a `schedule` (in the chosen environment),
 * one prune per repository those data stores use that has any with a retention policy, and the
 * DR drill when `drill.schedule` is set (unless only some data stores were asked for).
 */
export function specJobs(context: JobContext): ScheduledJob[] {
  const { spec } = context;
  const names = context.datastores ?? Object.keys(spec.datastores);
  const jobs: ScheduledJob[] = [];
  const prunes = new Map<string, string>();
  for (const name of names) {
    const datastore = specDatastore(spec, name);
    const schedule = datastore.schedule;
    if (schedule === undefined) {
      if (context.datastores !== undefined) {
        throw ShipError.usage('SHIP_CLI_BAD_FLAG', `data store ${name} has no schedule`, {
          hint: `add \`datastores.${name}.schedule.cron\` to the spec`,
        });
      }
      continue;
    }
    const environment = environmentOf(name, datastore, context.environment);
    jobs.push(backupJob(name, { ...datastore, schedule }, environment, context));
    if (retentionPolicy(datastore) !== undefined && !prunes.has(datastore.repository)) {
      prunes.set(datastore.repository, name);
    }
  }
  for (const [repository, datastore] of prunes) jobs.push(pruneJob(repository, datastore, context));
  const drillSchedule = spec.drill?.schedule;
  if (drillSchedule !== undefined && context.datastores === undefined) {
    jobs.push(drillJob(drillSchedule, context));
  }
  return jobs;
}
