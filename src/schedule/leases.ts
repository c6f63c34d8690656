import type { ScheduleRunRow, Store } from '../store/index.js';

/** Identifies one run: a job's due time in one environment. */
export interface RunKey {
  /** `backup:<datastore>` or `prune:<repository>`. */
  readonly job: string;
  /** Connection environment; empty for jobs that have none (prune). */
  readonly environment: string;
  readonly dueAt: Date;
}

/** What happened when a scheduler asked for a run's lease. */
export type LeaseOutcome =
  /** The row was new: this scheduler runs it. */
  | { readonly taken: 'new' }
  /** A `running` row whose lease had expired: its holder is presumed dead; this one takes over. */
  | { readonly taken: 'over'; readonly previousHolder: string; readonly attempts: number }
  /** Another scheduler holds a live lease. */
  | { readonly taken: false; readonly status: 'running'; readonly holder: string }
  /** The run is over (by whoever ran it). */
  | { readonly taken: false; readonly status: 'succeeded' | 'failed'; readonly holder: string };

/**
 * Run leases in the state store. Taking a lease is one conditional statement — an
 * `INSERT … ON CONFLICT DO NOTHING`, or an `UPDATE … WHERE status = 'running' AND
 * lease_expires_at < now` to take over a dead holder's run — so it is atomic on SQLite and
 * PostgreSQL alike and needs no store-wide lock.
 */
export class Leases {
  readonly #store: Store;
  readonly #holder: string;
  readonly #leaseMs: number;

  constructor(store: Store, holder: string, leaseMs: number) {
    this.#store = store;
    this.#holder = holder;
    this.#leaseMs = leaseMs;
  }

  get holder(): string {
    return this.#holder;
  }

  #where(key: RunKey) {
    return this.#store.db
      .updateTable('schedule_runs')
      .where('job', '=', key.job)
      .where('environment', '=', key.environment)
      .where('due_at', '=', key.dueAt.toISOString());
  }

  /** Tries to take the lease of `key` at `now`. */
  async acquire(key: RunKey, kind: string, now: Date): Promise<LeaseOutcome> {
    const at = now.toISOString();
    const expires = new Date(now.getTime() + this.#leaseMs).toISOString();
    const inserted = await this.#store.db
      .insertInto('schedule_runs')
      .values({
        job: key.job,
        environment: key.environment,
        due_at: key.dueAt.toISOString(),
        kind,
        holder: this.#holder,
        lease_expires_at: expires,
        heartbeat_at: at,
        status: 'running',
        attempts: 0,
        started_at: at,
        finished_at: null,
        error: null,
      })
      .onConflict((oc) => oc.columns(['job', 'environment', 'due_at']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { taken: 'new' };
    const before = await this.row(key);
    if (before === undefined) return this.acquire(key, kind, now);
    if (before.status !== 'running') {
      return {
        taken: false,
        status: before.status === 'succeeded' ? 'succeeded' : 'failed',
        holder: before.holder,
      };
    }
    if (before.lease_expires_at >= at) {
      return { taken: false, status: 'running', holder: before.holder };
    }
    const updated = await this.#where(key)
      .set({ holder: this.#holder, lease_expires_at: expires, heartbeat_at: at })
      .where('status', '=', 'running')
      .where('holder', '=', before.holder)
      .where('lease_expires_at', '<', at)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) {
      return { taken: 'over', previousHolder: before.holder, attempts: before.attempts };
    }
    // Someone else took it over (or finished it) between the read and the update.
    const after = await this.row(key);
    return {
      taken: false,
      status:
        after?.status === 'succeeded' || after?.status === 'failed' ? after.status : 'running',
      holder: after?.holder ?? before.holder,
    };
  }

  /** Extends this holder's lease; false when the lease is no longer this holder's. */
  async heartbeat(key: RunKey, now: Date, attempts?: number): Promise<boolean> {
    const result = await this.#where(key)
      .set({
        lease_expires_at: new Date(now.getTime() + this.#leaseMs).toISOString(),
        heartbeat_at: now.toISOString(),
        ...(attempts === undefined ? {} : { attempts }),
      })
      .where('holder', '=', this.#holder)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records the end of a run this holder ran; false when the lease had been lost. */
  async finish(
    key: RunKey,
    now: Date,
    result: { ok: boolean; attempts: number; error?: { code: string; message: string } },
  ): Promise<boolean> {
    const updated = await this.#where(key)
      .set({
        status: result.ok ? 'succeeded' : 'failed',
        attempts: result.attempts,
        finished_at: now.toISOString(),
        heartbeat_at: now.toISOString(),
        error: result.error === undefined ? null : JSON.stringify(result.error),
      })
      .where('holder', '=', this.#holder)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) === 1;
  }

  /** The row of `key`, if any. */
  row(key: RunKey): Promise<ScheduleRunRow | undefined> {
    return this.#store.db
      .selectFrom('schedule_runs')
      .selectAll()
      .where('job', '=', key.job)
      .where('environment', '=', key.environment)
      .where('due_at', '=', key.dueAt.toISOString())
      .executeTakeFirst();
  }

  /** The latest due time recorded for a job (any status), if any. */
  async lastDue(job: string, environment: string): Promise<Date | undefined> {
    const row = await this.#store.db
      .selectFrom('schedule_runs')
      .select((eb) => eb.fn.max('due_at').as('due_at'))
      .where('job', '=', job)
      .where('environment', '=', environment)
      .executeTakeFirst();
    const due = row?.due_at;
    return typeof due === 'string' ? new Date(due) : undefined;
  }

  /** Runs of a job still marked `running` (by any holder): candidates for a takeover. */
  async unfinished(job: string, environment: string): Promise<Date[]> {
    const rows = await this.#store.db
      .selectFrom('schedule_runs')
      .select('due_at')
      .where('job', '=', job)
      .where('environment', '=', environment)
      .where('status', '=', 'running')
      .orderBy('due_at')
      .execute();
    return rows.map((r) => new Date(r.due_at));
  }

  /** Every row, oldest due first (for `--json` reports and tests). */
  all(): Promise<ScheduleRunRow[]> {
    return this.#store.db
      .selectFrom('schedule_runs')
      .selectAll()
      .orderBy('due_at')
      .orderBy('job')
      .execute();
  }
}
