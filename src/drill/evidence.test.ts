import { describe, expect, it } from 'vitest';
import { AppendInputSchema, type LedgerRecord, type ListOptions } from '../ledger/index.js';
import { isShipError } from '../core/index.js';
import {
  drillEvidence,
  drillSummary,
  findDrillRun,
  readDrillRuns,
  type DrillRun,
} from './evidence.js';
import { parseDrillResult } from './result-schema.js';
import type { DrillResult } from './types.js';
import { drillFixture } from '../../test/drill/fixtures/drill-results.js';

const DAY = 86_400_000;

/** The evidence as the ledger would store it (parsed, normalised). */
function stored(result: DrillResult, validForMs = 30 * DAY) {
  const parsed = AppendInputSchema.parse({
    ...drillEvidence(result, validForMs),
    actor: { kind: 'system' },
  });
  if (parsed.kind !== 'gate-result') throw new Error('expected a gate result');
  return parsed;
}

function withStores(result: DrillResult, names: string[]): DrillResult {
  const [template] = result.datastores;
  if (template === undefined) throw new Error('fixture has no data store');
  return { ...result, datastores: names.map((name) => ({ ...template, name })) };
}

describe('drillEvidence', () => {
  it('records a passed drill as valid dr-drill evidence with every measurement', () => {
    const result = drillFixture('passed');
    const evidence = stored(result);
    expect(evidence.subject).toBe('service:shop');
    const { body } = evidence;
    expect(body).toMatchObject({
      gate: 'dr-drill',
      outcome: 'passed',
      startedAt: '2026-11-22T13:05:00.000Z',
      finishedAt: '2026-11-22T13:05:43.800Z',
      durationMs: 43_800,
      validUntil: new Date(Date.parse('2026-11-22T13:05:43.800Z') + 30 * DAY).toISOString(),
      summary: 'DR drill passed: RTO 41.2 s (objective 15 m), RPO 2 h 3 m (objective 6 h)',
    });
    expect(Object.fromEntries(body.measurements.map((m) => [m.name, [m.value, m.unit]]))).toEqual({
      rto_seconds: [41.2, 'seconds'],
      rpo_seconds: [7381.7, 'seconds'],
      elapsed_seconds: [43.8, 'seconds'],
      objective_rto_seconds: [900, 'seconds'],
      objective_rpo_seconds: [21600, 'seconds'],
      orders_rto_seconds: [31.6, 'seconds'],
      orders_rpo_seconds: [7381.7, 'seconds'],
      orders_restored_bytes: [734003200, 'bytes'],
      session_cache_rto_seconds: [3.5, 'seconds'],
      session_cache_rpo_seconds: [0.1, 'seconds'],
      session_cache_restored_bytes: [52428800, 'bytes'],
    });
    expect(body.artifacts).toEqual(
      result.datastores.map((d) => ({
        name: `snapshot ${d.name} ${d.snapshot.id.slice(0, 12)}`,
        digest: `sha256:${d.snapshot.id}`,
        size: d.snapshot.bytes,
      })),
    );
  });

  it('keeps the whole result as details, readable back', () => {
    for (const name of ['passed', 'failed-fingerprint', 'interrupted']) {
      const result = drillFixture(name);
      expect(parseDrillResult(stored(result).body.details)).toEqual({ ok: true, result });
    }
  });

  it('redacts credentials that reached the result before it is recorded', () => {
    const result = drillFixture('passed');
    const service = result.service;
    if (service === null) throw new Error('fixture has a service');
    const leaky = {
      ...result,
      service: { ...service, logTail: 'connecting with password=hunter2-secret' },
    };
    const details = JSON.stringify(stored(leaky).body.details);
    expect(details).not.toContain('hunter2-secret');
    expect(details).toContain('password=[REDACTED]');
  });

  it('records a failed drill as failed, not valid, without an RTO, summarised by its reasons', () => {
    const { body } = stored(drillFixture('failed-fingerprint'));
    expect(body.outcome).toBe('failed');
    expect(body.validUntil).toBeUndefined();
    expect(body.summary).toBe(
      'DR drill failed: orders: fingerprint mismatch (counts): table public.order_lines differs',
    );
    const names = body.measurements.map((m) => m.name);
    expect(names).not.toContain('rto_seconds');
    expect(names).not.toContain('orders_rto_seconds');
    expect(names).toContain('rpo_seconds');
  });

  it('records an interrupted drill as an error and counts further reasons', () => {
    const result = { ...drillFixture('interrupted'), reasons: ['first', 'second', 'third'] };
    expect(stored(result).body.outcome).toBe('error');
    expect(drillSummary(result)).toBe('DR drill error: first (+2 more)');
  });

  it('leaves out objectives the spec does not set', () => {
    const result = drillFixture('passed');
    const bare = { ...result, plan: { ...result.plan, objectives: {} } };
    expect(drillSummary(bare)).toBe('DR drill passed: RTO 41.2 s, RPO 2 h 3 m');
    const names = stored(bare).body.measurements.map((m) => m.name);
    expect(names.filter((n) => n.startsWith('objective_'))).toEqual([]);
  });

  it('makes store measurement names snake_case, at most 64 characters and unique', () => {
    const long = `a${'-x'.repeat(31)}`; // 63 characters, the longest name the spec allows
    const result = withStores(drillFixture('passed'), [
      long,
      `${long.slice(0, 60)}-yyy`,
      'objective',
      'session-cache',
      'session_cache',
    ]);
    const names = stored(result).body.measurements.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
    expect(names).toContain('session_cache_rpo_seconds');
    expect(names).toContain('session_cache_2_rpo_seconds');
    // A store called `objective` must not overwrite the drill's own objective measurement.
    expect(names.filter((n) => n === 'objective_rpo_seconds')).toHaveLength(1);
    expect(names.filter((n) => n.endsWith('_restored_bytes'))).toHaveLength(5);
  });

  it('skips the artifact of a snapshot id that is not a sha256 digest', () => {
    const result = drillFixture('passed');
    const [first, second] = result.datastores;
    if (first === undefined || second === undefined) throw new Error('fixture changed');
    const odd = {
      ...result,
      datastores: [{ ...first, snapshot: { ...first.snapshot, id: 'x' } }, second],
    };
    expect(stored(odd).body.artifacts.map((a) => a.name)).toEqual([
      `snapshot session-cache ${second.snapshot.id.slice(0, 12)}`,
    ]);
  });
});

/** A ledger of dr-drill records that pages like the real one (afterSeq, limit, asc). */
function fakeLedger(details: unknown[]): {
  list: (o: ListOptions) => Promise<LedgerRecord[]>;
  calls: number;
} {
  const records = details.map(
    (d, i) =>
      ({
        seq: i + 1,
        id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
        kind: 'gate-result',
        subject: 'service:shop',
        actor: { kind: 'system', roles: [] },
        recordedAt: `2026-11-22T18:00:${String(i % 60).padStart(2, '0')}.000Z`,
        body: {
          gate: 'dr-drill',
          outcome: 'passed',
          startedAt: '2026-11-22T13:05:00.000Z',
          finishedAt: '2026-11-22T13:05:43.800Z',
          durationMs: 43_800,
          measurements: [],
          artifacts: [],
          details: d,
        },
        prevHash: '0'.repeat(64),
        hash: (i + 1).toString(16).padStart(64, 'a'),
      }) as LedgerRecord,
  );
  const ledger = {
    calls: 0,
    list: (options: ListOptions) => {
      ledger.calls += 1;
      expect(options).toMatchObject({ gate: 'dr-drill', order: 'asc' });
      const after = options.afterSeq ?? 0;
      return Promise.resolve(records.filter((r) => r.seq > after).slice(0, options.limit ?? 100));
    },
  };
  return ledger;
}

function withId(result: DrillResult, id: string): DrillResult {
  return { ...result, plan: { ...result.plan, id } };
}

describe('readDrillRuns', () => {
  it('reads every page, oldest first, and skips records that are not drill results', async () => {
    const passed = drillFixture('passed');
    const details: unknown[] = Array.from({ length: 1203 }, (_, i) =>
      withId(passed, `20261122T130500Z-${i.toString(16).padStart(6, '0')}`),
    );
    details[5] = { hello: 'world' };
    const ledger = fakeLedger(details);
    const { runs, warnings } = await readDrillRuns(ledger);
    expect(ledger.calls).toBe(2);
    expect(runs).toHaveLength(1202);
    expect(runs[0]?.ledger).toMatchObject({ seq: 1, subject: 'service:shop' });
    expect(runs.at(-1)?.ledger.seq).toBe(1203);
    expect(warnings).toEqual([expect.stringContaining('ledger record #6 (dr-drill) skipped')]);
  });
});

describe('findDrillRun', () => {
  const runs: DrillRun[] = [
    '20261122T130500Z-3fa4c2',
    '20261122T140000Z-5b1d07',
    '20261122T140000Z-5b9e00',
  ].map((id, i) => ({
    ledger: {
      seq: i + 1,
      hash: 'a'.repeat(64),
      recordedAt: '2026-11-22T18:00:00.000Z',
      subject: 'service:shop',
    },
    result: withId(drillFixture('passed'), id),
  }));

  function failure(ref: string, list = runs) {
    try {
      findDrillRun(list, ref);
    } catch (error) {
      if (isShipError(error)) return error;
      throw error;
    }
    throw new Error(`expected "${ref}" to fail`);
  }

  it('finds a run by id, by unique prefix, and `latest`', () => {
    expect(findDrillRun(runs, '20261122T140000Z-5b1d07').ledger.seq).toBe(2);
    expect(findDrillRun(runs, '20261122T13').ledger.seq).toBe(1);
    expect(findDrillRun(runs, 'latest').ledger.seq).toBe(3);
  });

  it('takes the newest record of a run id recorded twice', () => {
    const again = { ...runs[0]!, ledger: { ...runs[0]!.ledger, seq: 9 } };
    expect(findDrillRun([...runs, again], '20261122T130500Z-3fa4c2').ledger.seq).toBe(9);
  });

  it('refuses an ambiguous prefix, listing the matches', () => {
    const error = failure('20261122T140000Z-5b');
    expect(error.code).toBe('SHIP_DRILL_RUN_AMBIGUOUS');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('20261122T140000Z-5b1d07, 20261122T140000Z-5b9e00');
  });

  it('says where to look when nothing matches', () => {
    const error = failure('2025');
    expect(error.code).toBe('SHIP_DRILL_RUN_NOT_FOUND');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('no DR drill run "2025" in the ledger');
    expect(error.hint).toContain('shipshape drill history');
    expect(failure('latest', []).code).toBe('SHIP_DRILL_RUN_NOT_FOUND');
    expect(failure('', runs).code).toBe('SHIP_DRILL_RUN_NOT_FOUND');
  });
});
