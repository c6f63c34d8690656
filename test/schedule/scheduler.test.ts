import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ShipError } from '../../src/core/index.js';
import {
  FakeClock,
  Leases,
  Scheduler,
  cronTiming,
  intervalTiming,
  type AttemptResult,
  type ScheduleEvent,
  type ScheduledJob,
} from '../../src/schedule/index.js';
import { nextScheduledRuns } from '../../src/spec/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';

const MINUTE = 60_000;

/** A job that records who ran which due time, at what (fake) time, and answers from `results`. */
function recordingJob(
  id: string,
  cron: string,
  log: { job: string; due: string; holder: string; at: string }[],
  holder: string,
  clock: FakeClock,
  results: (attempt: number) => AttemptResult = () => ({ ok: true, summary: 'done' }),
): ScheduledJob {
  return {
    id,
    kind: 'backup',
    environment: 'production',
    timing: cronTiming(cron, 'UTC'),
    async run({ dueAt, attempt }) {
      log.push({ job: id, due: dueAt.toISOString(), holder, at: clock.now().toISOString() });
      // Let the other schedulers' statements interleave with this run.
      await new Promise((resolve) => setImmediate(resolve));
      return results(attempt);
    },
  };
}

/** Settles `promise`, moving the fake clock to each pending sleep while it waits. */
async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  const state = { done: false };
  const isDone = (): boolean => state.done;
  const settled = promise.finally(() => {
    state.done = true;
  });
  while (!isDone()) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    if (isDone()) break;
    const wake = clock.nextWake();
    if (wake !== undefined) clock.advanceTo(wake);
  }
  return settled;
}

function counts(values: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const v of values) map.set(v, (map.get(v) ?? 0) + 1);
  return map;
}

describe('three schedulers sharing one PostgreSQL state store', () => {
  let db: ThrowawayDatabase;
  const stores: Store[] = [];

  beforeAll(async () => {
    db = await createPostgresDatabase('schedule');
    for (let i = 0; i < 3; i++) stores.push(await openStore({ dialect: 'postgres', url: db.url }));
    await Promise.all(stores.map((s) => s.migrate()));
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  });

  it('run each due time of each job exactly once, ticking at the same instants', async () => {
    const clock = new FakeClock('2026-03-01T00:00:30Z');
    const log: { job: string; due: string; holder: string; at: string }[] = [];
    const schedulers = stores.map(
      (store, i) =>
        new Scheduler({
          store,
          clock,
          holder: `scheduler-${i}`,
          jobs: [
            recordingJob('backup:orders', '*/5 * * * *', log, `scheduler-${i}`, clock),
            recordingJob('backup:users', '*/2 * * * *', log, `scheduler-${i}`, clock),
          ],
        }),
    );
    for (let minute = 0; minute <= 60; minute++) {
      clock.advanceTo(new Date(Date.parse('2026-03-01T00:00:30Z') + minute * MINUTE));
      await Promise.all(schedulers.map((s) => s.tick()));
    }
    const orders = log.filter((l) => l.job === 'backup:orders').map((l) => l.due);
    const users = log.filter((l) => l.job === 'backup:users').map((l) => l.due);
    // 00:00 (due at start) … 01:00: 13 five-minute runs and 31 two-minute runs.
    expect(new Set(orders).size).toBe(13);
    expect(new Set(users).size).toBe(31);
    expect([...counts(orders).values()].every((n) => n === 1)).toBe(true);
    expect([...counts(users).values()].every((n) => n === 1)).toBe(true);
    const rows = await new Leases(stores[0]!, 'reader', MINUTE).all();
    expect(rows).toHaveLength(44);
    expect(rows.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
    // Each run ran under the holder its row names.
    for (const entry of log) {
      const row = rows.find((r) => r.job === entry.job && r.due_at === entry.due);
      expect(row?.holder).toBe(entry.holder);
    }
  });

  it('take over a run whose holder died once its lease expires, and only one does', async () => {
    const clock = new FakeClock('2026-03-02T03:00:10Z');
    const due = new Date('2026-03-02T03:00:00Z');
    const dead = new Leases(stores[0]!, 'dead-scheduler', 10 * MINUTE);
    expect(
      await dead.acquire(
        { job: 'backup:ledger', environment: 'production', dueAt: due },
        'backup',
        clock.now(),
      ),
    ).toEqual({ taken: 'new' });
    const log: { job: string; due: string; holder: string; at: string }[] = [];
    const events: ScheduleEvent[] = [];
    const schedulers = stores.map(
      (store, i) =>
        new Scheduler({
          store,
          clock,
          holder: `survivor-${i}`,
          leaseMs: 10 * MINUTE,
          catchUp: 'skip',
          jobs: [recordingJob('backup:ledger', '0 3 * * *', log, `survivor-${i}`, clock)],
          onEvent: (e) => events.push(e),
        }),
    );
    clock.advance(MINUTE);
    await Promise.all(schedulers.map((s) => s.tick()));
    expect(log).toEqual([]);
    expect(events.filter((e) => e.type === 'skipped')).toHaveLength(3);
    clock.advance(10 * MINUTE);
    await Promise.all(schedulers.map((s) => s.tick()));
    await Promise.all(schedulers.map((s) => s.tick()));
    expect(log.map((l) => l.due)).toEqual([due.toISOString()]);
    const finished = events.filter((e) => e.type === 'finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ ok: true, tookOver: true });
    const row = await dead.row({ job: 'backup:ledger', environment: 'production', dueAt: due });
    expect(row).toMatchObject({ status: 'succeeded', holder: log[0]!.holder, attempts: 1 });
  });
});

describe('one scheduler on SQLite', () => {
  let dir: string;
  let store: Store;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-schedule-'));
    store = await openStore({ dialect: 'sqlite', path: join(dir, 'state.db') });
    await store.migrate();
  });

  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await store.db.deleteFrom('schedule_runs').execute();
  });

  it('after downtime, runs the latest missed run once at start (catch-up once)', async () => {
    const clock = new FakeClock('2026-04-01T00:00:05Z');
    const log: { job: string; due: string; holder: string; at: string }[] = [];
    const job = () => recordingJob('backup:hourly', '0 * * * *', log, 'a', clock);
    await new Scheduler({ store, clock, jobs: [job()] }).tick();
    expect(log.map((l) => l.due)).toEqual(['2026-04-01T00:00:00.000Z']);
    // Down from 00:00 to 05:30: 01:00 … 05:00 were missed.
    clock.advanceTo('2026-04-01T05:30:00Z');
    const restarted = new Scheduler({ store, clock, jobs: [job()] });
    await restarted.tick();
    await restarted.tick();
    expect(log.map((l) => l.due)).toEqual(['2026-04-01T00:00:00.000Z', '2026-04-01T05:00:00.000Z']);
    clock.advanceTo('2026-04-01T06:00:00Z');
    await restarted.tick();
    expect(log.map((l) => l.due).at(-1)).toBe('2026-04-01T06:00:00.000Z');
    expect(log).toHaveLength(3);
  });

  it('after downtime, runs nothing missed with catch-up skip, then the next due time', async () => {
    const clock = new FakeClock('2026-04-01T00:00:05Z');
    const log: { job: string; due: string; holder: string; at: string }[] = [];
    const job = () => recordingJob('backup:hourly', '0 * * * *', log, 'a', clock);
    await new Scheduler({ store, clock, jobs: [job()] }).tick();
    clock.advanceTo('2026-04-01T05:30:00Z');
    const restarted = new Scheduler({ store, clock, jobs: [job()], catchUp: 'skip' });
    expect((await restarted.plan())[0]?.dueAt).toBeUndefined();
    await restarted.tick();
    expect(log).toHaveLength(1);
    clock.advanceTo('2026-04-01T06:00:00Z');
    await restarted.tick();
    expect(log.map((l) => l.due)).toEqual(['2026-04-01T00:00:00.000Z', '2026-04-01T06:00:00.000Z']);
  });

  it('retries a failing run with doubling backoff and records the attempts', async () => {
    const clock = new FakeClock('2026-04-02T00:00:01Z');
    const log: { job: string; due: string; holder: string; at: string }[] = [];
    const events: ScheduleEvent[] = [];
    const failing = (attempt: number): AttemptResult =>
      attempt < 3
        ? { ok: false, error: ShipError.runtime('SHIP_DATASTORE_UNREACHABLE', 'refused') }
        : { ok: true, summary: 'third time' };
    const scheduler = new Scheduler({
      store,
      clock,
      jobs: [recordingJob('backup:flaky', '0 0 * * *', log, 'a', clock, failing)],
      retryBackoffMs: MINUTE,
      onEvent: (e) => events.push(e),
    });
    const reports = await drive(clock, scheduler.tick());
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ ok: true, attempts: 3 });
    expect(events.filter((e) => e.type === 'retry').map((e) => 'inMs' in e && e.inMs)).toEqual([
      MINUTE,
      2 * MINUTE,
    ]);
    const at = log.map((l) => Date.parse(l.at));
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(MINUTE);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(2 * MINUTE);
    const rows = await scheduler.leases.all();
    expect(rows).toMatchObject([{ status: 'succeeded', attempts: 3, error: null }]);
  });

  it('gives up after the last attempt, and does not retry a usage error', async () => {
    const clock = new FakeClock('2026-04-03T00:00:01Z');
    const log: { job: string; due: string; holder: string; at: string }[] = [];
    const down = (): AttemptResult => ({
      ok: false,
      error: ShipError.runtime('SHIP_DATASTORE_UNREACHABLE', 'refused'),
    });
    const misconfigured = (): AttemptResult => ({
      ok: false,
      error: ShipError.usage('SHIP_SECRET_UNSET', 'PGPASSWORD is not set'),
    });
    const scheduler = new Scheduler({
      store,
      clock,
      maxAttempts: 2,
      jobs: [
        recordingJob('backup:down', '0 0 * * *', log, 'a', clock, down),
        recordingJob('backup:misconfigured', '0 0 * * *', log, 'a', clock, misconfigured),
      ],
    });
    const reports = await drive(clock, scheduler.tick());
    expect(reports.map((r) => [r.job, r.ok, r.attempts])).toEqual([
      ['backup:down', false, 2],
      ['backup:misconfigured', false, 1],
    ]);
    const rows = await scheduler.leases.all();
    expect(rows.map((r) => [r.job, r.status, r.attempts])).toEqual([
      ['backup:down', 'failed', 2],
      ['backup:misconfigured', 'failed', 1],
    ]);
    expect(JSON.parse(rows[0]!.error!)).toEqual({
      code: 'SHIP_DATASTORE_UNREACHABLE',
      message: 'refused',
    });
  });

  it('renews the lease while a run lasts, so no other scheduler takes it over', async () => {
    const clock = new FakeClock('2026-04-04T00:00:01Z');
    let release: () => void = () => undefined;
    let calls = 0;
    const longRun: ScheduledJob = {
      id: 'backup:long',
      kind: 'backup',
      environment: 'production',
      timing: cronTiming('0 0 * * *', 'UTC'),
      run: () => {
        calls += 1;
        // A second run would be the bug under test: answer at once rather than hang.
        if (calls > 1) return Promise.resolve({ ok: true, summary: 'ran twice' });
        return new Promise((resolve) => {
          release = () => {
            resolve({ ok: true, summary: 'long' });
          };
        });
      },
    };
    const a = new Scheduler({ store, clock, holder: 'a', leaseMs: 3 * MINUTE, jobs: [longRun] });
    const b = new Scheduler({ store, clock, holder: 'b', leaseMs: 3 * MINUTE, jobs: [longRun] });
    const running = a.tick();
    const key = {
      job: 'backup:long',
      environment: 'production',
      dueAt: new Date('2026-04-04T00:00:00Z'),
    };
    // Let `a` take the lease, then let 30 minutes pass in heartbeat steps.
    while ((await a.leases.row(key)) === undefined) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 30; i++) {
      clock.advance(MINUTE);
      await new Promise((r) => setTimeout(r, 5));
      expect(await b.tick()).toEqual([]);
    }
    release();
    await running;
    expect(calls).toBe(1);
    expect(await a.leases.row(key)).toMatchObject({ holder: 'a', status: 'succeeded' });
  });
});

describe('timings', () => {
  it('cron due times match the spec schedule across a DST change', () => {
    const timing = cronTiming('30 2 * * *', 'Europe/Berlin');
    const after = new Date('2026-03-27T12:00:00Z');
    const expected = nextScheduledRuns({ cron: '30 2 * * *', timezone: 'Europe/Berlin' }, after, 4);
    const got: Date[] = [];
    for (let t = timing.next(after); got.length < 4 && t !== undefined; t = timing.next(t))
      got.push(t);
    expect(got).toEqual(expected);
    expect(timing.latest(undefined, expected[2]!)).toEqual(expected[2]);
    expect(timing.latest(expected[0], new Date(expected[2]!.getTime() - 1))).toEqual(expected[1]);
    expect(timing.latest(expected[1], new Date(expected[2]!.getTime() - 1))).toBeUndefined();
  });

  it('intervals are aligned to the epoch, so every scheduler agrees', () => {
    const day = intervalTiming(86_400_000, 'every 1d');
    expect(day.latest(undefined, new Date('2026-05-05T17:00:00Z'))).toEqual(
      new Date('2026-05-05T00:00:00Z'),
    );
    expect(
      day.latest(new Date('2026-05-05T00:00:00Z'), new Date('2026-05-05T17:00:00Z')),
    ).toBeUndefined();
    expect(day.next(new Date('2026-05-05T00:00:00Z'))).toEqual(new Date('2026-05-06T00:00:00Z'));
  });
});

describe('Scheduler.run', () => {
  it('sleeps on the clock between due times and stops when aborted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-schedule-run-'));
    const store = await openStore({ dialect: 'sqlite', path: join(dir, 'state.db') });
    try {
      await store.migrate();
      const clock = new FakeClock('2026-06-01T00:00:30Z');
      const log: { job: string; due: string; holder: string; at: string }[] = [];
      const scheduler = new Scheduler({
        store,
        clock,
        catchUp: 'skip',
        jobs: [recordingJob('backup:quarter', '*/15 * * * *', log, 'a', clock)],
      });
      const stop = new AbortController();
      const running = scheduler.run(stop.signal);
      for (let i = 0; i < 200 && log.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        const wake = clock.nextWake();
        if (wake !== undefined) clock.advanceTo(wake);
      }
      stop.abort();
      await running;
      expect(log.map((l) => [l.due, l.at])).toEqual([
        ['2026-06-01T00:15:00.000Z', '2026-06-01T00:15:00.000Z'],
        ['2026-06-01T00:30:00.000Z', '2026-06-01T00:30:00.000Z'],
        ['2026-06-01T00:45:00.000Z', '2026-06-01T00:45:00.000Z'],
      ]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
