import { describe, expect, it } from 'vitest';

import type { LedgerRecord } from '../ledger/index.js';
import type { Datastore } from '../spec/index.js';

import { NO_BACKUP_FACTS, datastoreBackupStatus, foldBackupRecord } from './status.js';

const HASH = '0'.repeat(64);
const NOW = new Date('2026-01-10T12:00:00.000Z');

function backup(
  seq: number,
  outcome: 'passed' | 'failed',
  startedAt: string,
  details: Record<string, unknown> = {},
): LedgerRecord {
  return {
    seq,
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    kind: 'gate-result',
    subject: 'datastore:orders',
    actor: { kind: 'system', roles: [] },
    recordedAt: startedAt,
    body: {
      gate: 'backup',
      outcome,
      startedAt,
      finishedAt: startedAt,
      durationMs: 0,
      measurements: [],
      artifacts: [],
      details,
    },
    prevHash: HASH,
    hash: HASH,
  } as LedgerRecord;
}

const plain = { kind: 'sqlite', connection: { production: 'x.db' } } as unknown as Datastore;

describe('datastoreBackupStatus', () => {
  it('without objectives or schedule: never is not an RPO risk, an old success is ok', () => {
    const never = datastoreBackupStatus('orders', plain, NO_BACKUP_FACTS, NOW);
    expect(never).toMatchObject({ status: 'never', alerting: true, rpoAtRisk: false });
    const facts = foldBackupRecord(NO_BACKUP_FACTS, backup(1, 'passed', '2020-01-01T00:00:00Z'));
    const old = datastoreBackupStatus('orders', plain, facts, NOW);
    expect(old).toMatchObject({ status: 'ok', rpoAtRisk: false, rpoSeconds: null, schedule: null });
  });

  it('folds in seq order, keeps the newest success across a later failure, filters by environment', () => {
    let facts = NO_BACKUP_FACTS;
    facts = foldBackupRecord(
      facts,
      backup(1, 'passed', '2026-01-10T10:00:00.000Z', { environment: 'production' }),
    );
    facts = foldBackupRecord(
      facts,
      backup(2, 'failed', '2026-01-10T11:00:00.000Z', { environment: 'staging' }),
    );
    expect(facts.lastAttempt?.seq).toBe(2);
    expect(facts.lastSuccess?.seq).toBe(1);
    // An older record folded late changes nothing.
    expect(foldBackupRecord(facts, backup(0, 'passed', '2026-01-01T00:00:00.000Z'))).toBe(facts);

    let production = NO_BACKUP_FACTS;
    for (const seq of [1, 2]) {
      production = foldBackupRecord(
        production,
        backup(seq, seq === 1 ? 'passed' : 'failed', '2026-01-10T10:00:00.000Z', {
          environment: seq === 1 ? 'production' : 'staging',
        }),
        'production',
      );
    }
    expect(datastoreBackupStatus('orders', plain, production, NOW).status).toBe('ok');
    expect(datastoreBackupStatus('orders', plain, facts, NOW).status).toBe('failed');
  });

  it('takes the age from the consistent point when the record has one', () => {
    const facts = foldBackupRecord(
      NO_BACKUP_FACTS,
      backup(1, 'passed', '2026-01-10T11:00:00.000Z', {
        consistentPoint: { kind: 'lsn', value: '0/1', sourceTime: '2026-01-10T10:00:00.000Z' },
      }),
    );
    expect(datastoreBackupStatus('orders', plain, facts, NOW).ageSeconds).toBe(7200);
  });
});
