import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

import { ExitCode, ShipError, isShipError, isSimulatedCrash } from '../core/index.js';
import type { Store } from '../store/index.js';

import { systemClock, type Clock } from './clock.js';
import { Leases, type RunKey } from './leases.js';
import type { Timing } from './timing.js';

/** What one attempt of a job achieved. */
export type AttemptResult =
  | { readonly ok: true; readonly summary: string; readonly details?: Record<string, unknown> }
  | { readonly ok: false; readonly error: ShipError; readonly details?: Record<string, unknown> };

/** A job the scheduler runs whenever its timing says it is due. */
export interface ScheduledJob {
  /** `backup:<datastore>`, `prune:<repository>` or `drill`: the lease key's job part. */
  readonly id: string;
  readonly kind: 'backup' | 'prune' | 'drill';
  /** Connection environment; empty when the job has none. */
  readonly environment: string;
  readonly timing: Timing;
  /** One attempt. Errors it throws count as a failed attempt (a simulated crash propagates). */
  run(context: { readonly dueAt: Date; readonly attempt: number }): Promise<AttemptResult>;
}

/** How missed runs are handled at start (docs/scheduler.md). */
export type CatchUp = 'once' | 'skip';

export interface SchedulerOptions {
  readonly store: Store;
  readonly jobs: readonly ScheduledJob[];
  readonly clock?: Clock;
  /** Identifies this scheduler in leases. @default `host:pid:random` */
  readonly holder?: string;
  /** `once`: a run missed while no scheduler ran is run once at start; `skip`: never. */
  readonly catchUp?: CatchUp;
  /** How long a lease lasts without a heartbeat. @default 10 min */
  readonly leaseMs?: number;
  /** Attempts per run, the first included. @default 3 */
  readonly maxAttempts?: number;
  /** Wait before the first retry; doubled for each further one, capped at 1 h. @default 1 min */
  readonly retryBackoffMs?: number;
  readonly onEvent?: (event: ScheduleEvent) => void;
}

/** What the scheduler reports as it works. */
export type ScheduleEvent =
  | {
      readonly type: 'attempt';
      readonly job: string;
      readonly environment: string;
      readonly dueAt: string;
      readonly attempt: number;
      readonly result: AttemptResult;
    }
  | {
      readonly type: 'retry';
      readonly job: string;
      readonly environment: string;
      readonly dueAt: string;
      readonly attempt: number;
      readonly inMs: number;
    }
  | {
      readonly type: 'finished';
      readonly job: string;
      readonly environment: string;
      readonly dueAt: string;
      readonly ok: boolean;
      readonly attempts: number;
      /** True when this scheduler took the run over from a holder whose lease had expired. */
      readonly tookOver: boolean;
    }
  | {
      readonly type: 'skipped';
      readonly job: string;
      readonly environment: string;
      readonly dueAt: string;
      readonly reason: string;
    }
  | { readonly type: 'lease-lost'; readonly job: string; readonly dueAt: string };

/** The result of one run this scheduler carried out. */
export interface RunReport {
  readonly job: string;
  readonly kind: 'backup' | 'prune' | 'drill';
  readonly environment: string;
  readonly dueAt: string;
  readonly ok: boolean;
  readonly attempts: number;
  readonly tookOver: boolean;
  /** The last attempt's result. */
  readonly last: AttemptResult;
}

const MINUTE = 60_000;
const MAX_BACKOFF_MS = 60 * MINUTE;

/** `host:pid:8 hex`: unique per scheduler process and instance. */
export function defaultHolder(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** The wait before retry number `retry` (1-based): `base · 2^(retry-1)`, at most 1 h. */
export function retryDelay(baseMs: number, retry: number): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (retry - 1));
}

interface JobState {
  /** Due times at or before this are handled (run, skipped or watched). */
  cursor: Date | undefined;
  /** Runs another holder had leased: retried until they finish or their lease can be taken. */
  watched: Map<number, Date>;
}

/**
 * Runs jobs when they fall due, each due time at most once across every scheduler sharing the
 * state store: a run starts only after its lease row is taken (see {@link Leases}); the holder
 * renews the lease while the run lasts; a lease left to expire by a dead scheduler is taken over.
 * Jobs run one at a time, in the order given.
 */
export class Scheduler {
  readonly #jobs: readonly ScheduledJob[];
  readonly #clock: Clock;
  readonly #leases: Leases;
  readonly #catchUp: CatchUp;
  readonly #leaseMs: number;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #onEvent: (event: ScheduleEvent) => void;
  #state: Map<string, JobState> | undefined;

  constructor(options: SchedulerOptions) {
    this.#jobs = options.jobs;
    this.#clock = options.clock ?? systemClock;
    this.#leaseMs = options.leaseMs ?? 10 * MINUTE;
    this.#leases = new Leases(options.store, options.holder ?? defaultHolder(), this.#leaseMs);
    this.#catchUp = options.catchUp ?? 'once';
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#backoffMs = options.retryBackoffMs ?? MINUTE;
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  get holder(): string {
    return this.#leases.holder;
  }

  get leases(): Leases {
    return this.#leases;
  }

  static #key(job: ScheduledJob): string {
    return `${job.id}\u0000${job.environment}`;
  }

  /**
   * Where each job starts: with catch-up `once`, just after the last due time any scheduler
   * recorded (none: no lower bound), so the latest run missed meanwhile is due now; with `skip`,
   * now. Unfinished runs of dead holders are watched either way.
   */
  async #start(): Promise<Map<string, JobState>> {
    if (this.#state !== undefined) return this.#state;
    const now = this.#clock.now();
    const state = new Map<string, JobState>();
    for (const job of this.#jobs) {
      const cursor =
        this.#catchUp === 'skip'
          ? new Date(now.getTime() - 1)
          : await this.#leases.lastDue(job.id, job.environment);
      const watched = new Map<number, Date>();
      for (const due of await this.#leases.unfinished(job.id, job.environment)) {
        watched.set(due.getTime(), due);
      }
      state.set(Scheduler.#key(job), { cursor, watched });
    }
    this.#state = state;
    return state;
  }

  /** What is due at the clock's time, without taking leases or running anything. */
  async plan(): Promise<{ job: ScheduledJob; dueAt: Date | undefined; next: Date | undefined }[]> {
    const state = await this.#start();
    const now = this.#clock.now();
    return this.#jobs.map((job) => {
      const s = state.get(Scheduler.#key(job));
      const watched = [...(s?.watched.values() ?? [])];
      const dueAt = watched[0] ?? job.timing.latest(s?.cursor, now);
      return { job, dueAt, next: job.timing.next(now) };
    });
  }

  /**
   * Runs every run due at the clock's time (for each job: watched runs whose lease expired, then
   * the latest due time after its cursor) and returns what this scheduler ran.
   */
  async tick(signal?: AbortSignal): Promise<RunReport[]> {
    const state = await this.#start();
    const reports: RunReport[] = [];
    for (const job of this.#jobs) {
      if (signal?.aborted === true) break;
      const s = state.get(Scheduler.#key(job));
      if (s === undefined) continue;
      const candidates = [...s.watched.values()];
      const latest = job.timing.latest(s.cursor, this.#clock.now());
      if (latest !== undefined) {
        s.cursor = latest;
        if (!s.watched.has(latest.getTime())) candidates.push(latest);
      }
      for (const dueAt of candidates) {
        const report = await this.#attemptRun(job, dueAt, s, signal);
        if (report !== undefined) reports.push(report);
      }
    }
    return reports;
  }

  /** When the next tick has work: the earliest next due time, or a watched lease's expiry. */
  async nextWake(): Promise<Date> {
    const state = await this.#start();
    const now = this.#clock.now();
    let wake = now.getTime() + this.#leaseMs;
    for (const job of this.#jobs) {
      const next = job.timing.next(now);
      if (next !== undefined) wake = Math.min(wake, next.getTime());
      const s = state.get(Scheduler.#key(job));
      if (s !== undefined && s.watched.size > 0) {
        wake = Math.min(wake, now.getTime() + Math.ceil(this.#leaseMs / 4));
      }
    }
    return new Date(Math.max(wake, now.getTime() + 1));
  }

  /** Ticks until `signal` aborts, sleeping on the clock in between. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tick(signal);
      if (isAborted(signal)) break;
      const wake = await this.nextWake();
      await this.#clock.sleep(wake.getTime() - this.#clock.now().getTime(), signal);
    }
  }

  async #attemptRun(
    job: ScheduledJob,
    dueAt: Date,
    s: JobState,
    signal: AbortSignal | undefined,
  ): Promise<RunReport | undefined> {
    const key: RunKey = { job: job.id, environment: job.environment, dueAt };
    const base = { job: job.id, environment: job.environment, dueAt: dueAt.toISOString() };
    const lease = await this.#leases.acquire(key, job.kind, this.#clock.now());
    if (lease.taken === false) {
      if (lease.status === 'running') s.watched.set(dueAt.getTime(), dueAt);
      else s.watched.delete(dueAt.getTime());
      this.#onEvent({
        type: 'skipped',
        ...base,
        reason:
          lease.status === 'running'
            ? `running under ${lease.holder}`
            : `already ${lease.status} (${lease.holder})`,
      });
      return undefined;
    }
    s.watched.delete(dueAt.getTime());
    const tookOver = lease.taken === 'over';
    let attempts = lease.taken === 'over' ? lease.attempts : 0;
    let last: AttemptResult | undefined;
    const held = { lost: false };
    const leaseLost = (): boolean => held.lost;
    const heartbeat = new AbortController();
    const beating = this.#heartbeat(key, heartbeat.signal, () => attempts).then((kept) => {
      held.lost = !kept;
    });
    try {
      for (;;) {
        attempts += 1;
        last = await this.#attempt(job, dueAt, attempts);
        this.#onEvent({ type: 'attempt', ...base, attempt: attempts, result: last });
        if (last.ok || attempts >= this.#maxAttempts || !retryable(last.error)) break;
        if (isAborted(signal) || leaseLost()) break;
        const inMs = retryDelay(this.#backoffMs, attempts);
        this.#onEvent({ type: 'retry', ...base, attempt: attempts + 1, inMs });
        await this.#leases.heartbeat(key, this.#clock.now(), attempts);
        await this.#clock.sleep(inMs, signal);
        if (isAborted(signal) || leaseLost()) break;
      }
    } finally {
      heartbeat.abort();
      await beating;
    }
    const ok = last.ok;
    const kept = await this.#leases.finish(key, this.#clock.now(), {
      ok,
      attempts,
      ...(last.ok ? {} : { error: { code: last.error.code, message: last.error.message } }),
    });
    if (!kept) this.#onEvent({ type: 'lease-lost', job: job.id, dueAt: base.dueAt });
    this.#onEvent({ type: 'finished', ...base, ok, attempts, tookOver });
    return { ...base, kind: job.kind, ok, attempts, tookOver, last };
  }

  async #attempt(job: ScheduledJob, dueAt: Date, attempt: number): Promise<AttemptResult> {
    try {
      return await job.run({ dueAt, attempt });
    } catch (error) {
      if (isSimulatedCrash(error)) throw error;
      return {
        ok: false,
        error: isShipError(error)
          ? error
          : ShipError.runtime(
              'SHIP_INTERNAL',
              `internal error: ${error instanceof Error ? error.message : String(error)}`,
            ),
      };
    }
  }

  /** Renews the lease every third of its length until `stop`; false once it was lost. */
  async #heartbeat(key: RunKey, stop: AbortSignal, attempts: () => number): Promise<boolean> {
    const every = Math.max(1, Math.floor(this.#leaseMs / 3));
    while (!stop.aborted) {
      await this.#clock.sleep(every, stop);
      if (isAborted(stop)) return true;
      if (!(await this.#leases.heartbeat(key, this.#clock.now(), attempts()))) return false;
    }
    return true;
  }
}

/** Read through a call so that TypeScript does not narrow it across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * Usage and spec errors will fail the same way again, and so will a gate that ran and failed
 * (a drill that missed its objective): only other failures are retried.
 */
function retryable(error: ShipError): boolean {
  return error.exitCode !== ExitCode.usage && error.exitCode !== ExitCode.gateFailed;
}
