import { describe, expect, it } from 'vitest';
import type { LedgerRecord, ListOptions } from '../../ledger/index.js';
import { LedgerSeries, datastoreOf, type LedgerSource } from './ledger-series.js';

const HASH = '0'.repeat(64);

function gate(seq: number, gateId: string, subject: string, outcome: string, finishedAt: string) {
  return {
    seq,
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    kind: 'gate-result',
    subject,
    actor: { kind: 'system', roles: [] },
    recordedAt: finishedAt,
    body: {
      gate: gateId,
      outcome,
      startedAt: finishedAt,
      finishedAt,
      durationMs: 0,
      measurements: [],
      artifacts: [],
    },
    prevHash: HASH,
    hash: HASH,
  } as LedgerRecord;
}

/** A ledger in memory that records every query it answers. */
class FakeLedger implements LedgerSource {
  records: LedgerRecord[] = [];
  events = 0;
  queries: ListOptions[] = [];

  list(options: ListOptions): Promise<LedgerRecord[]> {
    this.queries.push(options);
    const after = options.afterSeq ?? 0;
    return Promise.resolve(
      this.records
        .filter((r) => r.seq > after && (options.kind === undefined || r.kind === options.kind))
        .slice(0, options.limit ?? 100),
    );
  }

  count(): Promise<number> {
    return Promise.resolve(this.records.length + this.events);
  }
}

describe('LedgerSeries', () => {
  it('reads only what was appended since the last refresh', async () => {
    const ledger = new FakeLedger();
    const series = new LedgerSeries();
    ledger.records.push(
      gate(1, 'backup', 'datastore:orders', 'passed', '2025-01-01T00:00:00.000Z'),
    );
    await series.refresh(ledger);
    expect(ledger.queries.at(-1)).toMatchObject({ afterSeq: 0, kind: 'gate-result' });
    ledger.records.push(
      gate(2, 'backup', 'datastore:orders', 'failed', '2025-01-02T00:00:00.000Z'),
    );
    await series.refresh(ledger);
    expect(ledger.queries.at(-1)).toMatchObject({ afterSeq: 1 });
    await series.refresh(ledger);
    expect(ledger.queries.at(-1)).toMatchObject({ afterSeq: 2 });
    expect(series.gates()).toEqual([
      {
        gate: 'backup',
        subject: 'datastore:orders',
        outcome: 'failed',
        lastSuccessSeconds: Date.parse('2025-01-01T00:00:00.000Z') / 1000,
      },
    ]);
    expect(series.backups()).toEqual([['orders', Date.parse('2025-01-01T00:00:00.000Z') / 1000]]);
    expect(series.total).toBe(2);
  });

  it('pages through a long backlog', async () => {
    const ledger = new FakeLedger();
    for (let seq = 1; seq <= 2500; seq += 1) {
      ledger.records.push(
        gate(seq, 'validate', `service:s${seq % 7}`, 'passed', '2025-01-01T00:00:00.000Z'),
      );
    }
    const series = new LedgerSeries();
    await series.refresh(ledger);
    expect(ledger.queries.map((q) => q.afterSeq)).toEqual([0, 1000, 2000]);
    expect(series.gates()).toHaveLength(7);
    expect(series.seq).toBe(2500);
  });

  it('keeps the newest success even when an older run is appended later', async () => {
    const ledger = new FakeLedger();
    ledger.records.push(gate(1, 'dr-drill', 'service:shop', 'passed', '2025-05-01T00:00:00.000Z'));
    ledger.records.push(gate(2, 'dr-drill', 'service:shop', 'passed', '2025-04-01T00:00:00.000Z'));
    const series = new LedgerSeries();
    await series.refresh(ledger);
    expect(series.gates()[0]?.lastSuccessSeconds).toBe(
      Date.parse('2025-05-01T00:00:00.000Z') / 1000,
    );
  });

  it('starts over when the ledger shrank (a replaced store)', async () => {
    const ledger = new FakeLedger();
    ledger.records.push(gate(1, 'audit', 'service:a', 'passed', '2025-01-01T00:00:00.000Z'));
    ledger.records.push(gate(2, 'audit', 'service:b', 'passed', '2025-01-01T00:00:00.000Z'));
    const series = new LedgerSeries();
    await series.refresh(ledger);
    ledger.records = [gate(1, 'audit', 'service:c', 'error', '2025-01-01T00:00:00.000Z')];
    await series.refresh(ledger);
    expect(series.gates().map((g) => g.subject)).toEqual(['service:c']);
  });

  it('shares one read between concurrent scrapes', async () => {
    const ledger = new FakeLedger();
    const series = new LedgerSeries();
    await Promise.all([series.refresh(ledger), series.refresh(ledger), series.refresh(ledger)]);
    expect(ledger.queries).toHaveLength(1);
  });

  it('names the data store of a backup subject', () => {
    expect(datastoreOf('datastore:orders')).toBe('orders');
    expect(datastoreOf('orders')).toBe('orders');
  });
});
