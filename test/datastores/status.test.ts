import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backupStatusReport, type DatastoreBackupStatus } from '../../src/datastores/index.js';
import { createDemo } from '../../src/demo/index.js';
import type { EvidenceLedger } from '../../src/ledger/index.js';
import { ServerMetrics } from '../../src/server/metrics/registry.js';
import { Workspace } from '../../src/workspace/index.js';
import { runCli } from '../helpers/cli.js';

const NOW = new Date('2026-01-10T12:00:00.000Z');
const env = { SHIPSHAPE_DATABASE_URL: '' };

function store(name: string, cron: string, rpo: string): string {
  return (
    `  ${name}:\n    kind: sqlite\n    connection:\n      production: data/${name}.db\n` +
    `    repository: local\n    schedule:\n      cron: '${cron}'\n` +
    `    objectives:\n      rto: 15m\n      rpo: ${rpo}\n`
  );
}

async function recordBackup(
  ledger: EvidenceLedger,
  datastore: string,
  outcome: 'passed' | 'failed',
  startedAt: Date,
): Promise<number> {
  const finishedAt = new Date(startedAt.getTime() + 5000);
  const record = await ledger.record({
    kind: 'gate-result',
    subject: `datastore:${datastore}`,
    body: {
      gate: 'backup',
      outcome,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      details:
        outcome === 'passed'
          ? {
              datastore,
              environment: 'production',
              snapshotId: 'a'.repeat(64),
              // The data is consistent as of one second after the start.
              consistentPoint: {
                kind: 'sqlite-backup',
                value: 'x',
                sourceTime: new Date(startedAt.getTime() + 1000).toISOString(),
              },
            }
          : {
              datastore,
              environment: 'production',
              error: { code: 'SHIP_DATASTORE_UNREACHABLE', exitCode: 3, message: 'down' },
            },
    },
  });
  return record.seq;
}

const hours = (n: number) => new Date(NOW.getTime() - n * 3600_000);

describe('backup status', () => {
  let root: string;
  let dir: string;
  let workspace: Workspace;
  let failedSeq: number;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-backup-status-'));
    dir = join(root, 'ws');
    await createDemo({ dir, env });
    const specFile = join(dir, 'shipshape.yaml');
    const spec = (await readFile(specFile, 'utf8')).replace(
      'datastores:\n',
      'datastores:\n' +
        store('never-db', '0 */6 * * *', '6h') +
        store('fresh-db', '0 */6 * * *', '6h') +
        store('old-db', '0 */6 * * *', '6h') +
        store('failed-db', '0 */6 * * *', '6h') +
        store('late-db', '0 * * * *', '1d') +
        store('live-db', '0 */6 * * *', '6h'),
    );
    await writeFile(specFile, spec);
    workspace = await Workspace.open({ cwd: dir, env });
    const ledger = await workspace.evidence();
    await recordBackup(ledger, 'fresh-db', 'failed', hours(3));
    await recordBackup(ledger, 'fresh-db', 'passed', hours(1));
    await recordBackup(ledger, 'old-db', 'passed', hours(8));
    await recordBackup(ledger, 'failed-db', 'passed', hours(2));
    failedSeq = await recordBackup(ledger, 'failed-db', 'failed', hours(0.5));
    // Hourly schedule: the success started 09:10, the 10:00 run had until 11:00 and is missing.
    await recordBackup(ledger, 'late-db', 'passed', new Date('2026-01-10T09:10:00.000Z'));
    await recordBackup(ledger, 'live-db', 'passed', new Date(Date.now() - 60_000));
  });

  afterAll(async () => {
    await workspace.close();
    await rm(root, { recursive: true, force: true });
  });

  async function report(): Promise<Map<string, DatastoreBackupStatus>> {
    const statuses = await backupStatusReport(workspace.spec, await workspace.evidence(), {
      now: NOW,
    });
    return new Map(statuses.map((s) => [s.datastore, s]));
  }

  it('never backed up: status never, RPO at risk, alerting', async () => {
    const status = (await report()).get('never-db')!;
    expect(status).toMatchObject({
      status: 'never',
      alerting: true,
      rpoAtRisk: true,
      lastSuccess: null,
      lastAttempt: null,
      ageSeconds: null,
      rpoSeconds: 6 * 3600,
    });
    expect(status.schedule).toMatchObject({
      cron: '0 */6 * * *',
      intervalSeconds: 6 * 3600,
      next: '2026-01-10T18:00:00.000Z',
    });
  });

  it('fresh: ok, age measured from the consistent point, an older failure does not count', async () => {
    const status = (await report()).get('fresh-db')!;
    expect(status).toMatchObject({
      status: 'ok',
      alerting: false,
      rpoAtRisk: false,
      ageSeconds: 3600 - 1,
      lastSuccess: { dataTime: '2026-01-10T11:00:01.000Z', snapshotId: 'a'.repeat(64) },
      lastAttempt: { outcome: 'passed' },
    });
    expect(status.schedule?.dueAfterLastSuccess).toBe('2026-01-10T12:00:00.000Z');
  });

  it('older than the RPO: rpo-at-risk with the age and the objective in the reason', async () => {
    const status = (await report()).get('old-db')!;
    expect(status).toMatchObject({
      status: 'rpo-at-risk',
      alerting: true,
      rpoAtRisk: true,
      ageSeconds: 8 * 3600 - 1,
    });
    expect(status.reason).toContain('7h59m59s');
    expect(status.reason).toContain('6h');
  });

  it('last run failed: failed, naming the record and the error code', async () => {
    const status = (await report()).get('failed-db')!;
    expect(status).toMatchObject({
      status: 'failed',
      alerting: true,
      rpoAtRisk: false,
      lastAttempt: { seq: failedSeq, outcome: 'failed', errorCode: 'SHIP_DATASTORE_UNREACHABLE' },
      ageSeconds: 2 * 3600 - 1,
    });
    expect(status.reason).toContain(`#${failedSeq}`);
  });

  it('a missed scheduled run within the RPO: late, not alerting', async () => {
    const status = (await report()).get('late-db')!;
    expect(status).toMatchObject({ status: 'late', alerting: false, rpoAtRisk: false });
    expect(status.reason).toContain('2026-01-10T10:00:00.000Z');
  });

  it('/metrics exports the same numbers, computed by the same function', async () => {
    const metrics = new ServerMetrics({
      ledger: () => workspace.ledger(),
      datastores: () => workspace.spec.datastores,
      now: () => NOW,
      processMetrics: false,
    });
    const { text } = await metrics.render();
    expect(text).toContain('shipshape_backup_age_seconds{datastore="fresh-db"} 3599');
    expect(text).toContain('shipshape_backup_age_seconds{datastore="old-db"} 28799');
    expect(text).not.toContain('shipshape_backup_age_seconds{datastore="never-db"}');
    expect(text).toContain('shipshape_backup_rpo_seconds{datastore="old-db"} 21600');
    expect(text).toContain('shipshape_backup_rpo_at_risk{datastore="old-db"} 1');
    expect(text).toContain('shipshape_backup_rpo_at_risk{datastore="never-db"} 1');
    expect(text).toContain('shipshape_backup_rpo_at_risk{datastore="fresh-db"} 0');
    expect(text).toContain('shipshape_backup_status{datastore="failed-db",status="failed"} 1');
    expect(text).toContain('shipshape_backup_status{datastore="failed-db",status="ok"} 0');
    expect(text).toContain('shipshape_backup_status{datastore="late-db",status="late"} 1');
    expect(text).toContain(
      `shipshape_backup_last_success_timestamp_seconds{datastore="fresh-db"} ${hours(1).getTime() / 1000 + 5}`,
    );
    const cliView = (await report()).get('old-db')!;
    expect(metrics.backupStatuses().find((s) => s.datastore === 'old-db')).toEqual(cliView);
  });

  it('the CLI exits 0 when every store asked about is fine', async () => {
    const run = await runCli(['backup', 'status', 'live-db', '--json'], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    const body = JSON.parse(run.stdout) as { ok: boolean; datastores: DatastoreBackupStatus[] };
    expect(body.ok).toBe(true);
    expect(body.datastores).toEqual([
      expect.objectContaining({ datastore: 'live-db', status: 'ok' }),
    ]);
  });

  it('the CLI exits 18 and says why when any store is at risk', async () => {
    const run = await runCli(['backup', 'status'], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(18);
    expect(run.stdout).toMatch(/never-db +never /);
    expect(run.stdout).toMatch(/live-db +ok /);
    expect(run.stdout).toContain('never-db: no backup has been recorded');
    const other = await runCli(['backup', 'status', 'live-db', '--env', 'staging', '--json'], {
      cwd: dir,
      env,
    });
    expect(other.code).toBe(18);
    expect(JSON.parse(other.stdout)).toMatchObject({
      ok: false,
      datastores: [{ datastore: 'live-db', status: 'never' }],
    });
  });

  it('names an unknown data store (exit 2) and documents exit 18 in --help', async () => {
    const run = await runCli(['backup', 'status', 'nope', '--json'], { cwd: dir, env });
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('SHIP_SPEC_UNKNOWN_REFERENCE');
    const help = await runCli(['backup', 'status', '--help']);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('18');
  });
});
