import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';

interface RunJson {
  job: string;
  kind: string;
  ok: boolean;
  attempts: number;
  result: { ok: boolean; snapshotId?: string; retention?: { removed: string[] } | null };
}

describe('shipshape schedule run', () => {
  let root: string;
  let dir: string;
  let db: ThrowawayDatabase;
  const sqliteEnv = { SHIPSHAPE_DATABASE_URL: '' };
  let pgEnv: Record<string, string>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-schedule-cli-'));
    dir = join(root, 'demo');
    // The demo's orders-db is scheduled `0 */6 * * *` with keep_daily 30, keep_weekly 12, and
    // has one snapshot already.
    expect((await runCli(['demo', '--dir', dir], { cwd: root, env: sqliteEnv })).code).toBe(0);
    db = await createPostgresDatabase('schedule_cli');
    pgEnv = { SHIPSHAPE_DATABASE_URL: db.url };
  });

  afterAll(async () => {
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('has --help with examples and --json', async () => {
    const help = await runCli(['schedule', 'run', '--help'], { cwd: dir, env: sqliteEnv });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('--catch-up');
  });

  it('--dry-run prints what would run and runs nothing', async () => {
    const result = await runCli(['schedule', 'run', '--env', 'production', '--dry-run', '--json'], {
      cwd: dir,
      env: sqliteEnv,
    });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      dryRun: boolean;
      jobs: { job: string; dueNow: string | null; next: string | null }[];
    };
    expect(report.dryRun).toBe(true);
    expect(report.jobs.map((j) => j.job)).toEqual(['backup:orders-db', 'prune:local', 'drill']);
    expect(report.jobs.every((j) => j.dueNow !== null && j.next !== null)).toBe(true);
    const list = await runCli(['backup', 'list', '--json'], { cwd: dir, env: sqliteEnv });
    expect((JSON.parse(list.stdout) as { snapshots: unknown[] }).snapshots).toHaveLength(1);
  });

  it('refuses an unknown --catch-up mode and a store with several connections and no --env', async () => {
    const bad = await runCli(['schedule', 'run', '--catch-up', 'never', '--json'], {
      cwd: dir,
      env: sqliteEnv,
    });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'SHIP_CLI_BAD_FLAG' } });
    const noEnv = await runCli(['schedule', 'run', '--once', '--json'], {
      cwd: dir,
      env: sqliteEnv,
    });
    expect(noEnv.code).toBe(2);
    expect(JSON.parse(noEnv.stdout)).toMatchObject({
      error: { code: 'SHIP_DATASTORE_ENVIRONMENT_REQUIRED' },
    });
  });

  it('three schedulers on one PostgreSQL store run the due backup once, record it, apply retention', async () => {
    // A backup that meets the prune's exclusive repository lock fails (exit 13) and is retried:
    // a short backoff keeps the test quick.
    const args = [
      'schedule',
      'run',
      '--env',
      'production',
      '--once',
      '--json',
      '--retry-backoff',
      '1s',
      '--retries',
      '5',
    ];
    const results = await Promise.all([0, 1, 2].map(() => runCli(args, { cwd: dir, env: pgEnv })));
    const runs: RunJson[] = [];
    for (const r of results) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      runs.push(...(JSON.parse(r.stdout) as { runs: RunJson[] }).runs);
    }
    const backups = runs.filter((r) => r.job === 'backup:orders-db');
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ ok: true, result: { ok: true } });
    const attempts = backups[0]!.attempts;
    expect(runs.filter((r) => r.job === 'prune:local')).toHaveLength(1);
    // keep_daily keeps one snapshot per day: the scheduled one replaces the demo's.
    expect(backups[0]!.result.retention?.removed).toHaveLength(1);
    const list = await runCli(['backup', 'list', '--json'], { cwd: dir, env: pgEnv });
    const snapshots = (JSON.parse(list.stdout) as { snapshots: { id: string; tags: string[] }[] })
      .snapshots;
    expect(snapshots.map((s) => s.id)).toEqual([backups[0]!.result.snapshotId]);
    expect(snapshots[0]!.tags).toContain('scheduled');
    // The run is evidence exactly as `backup run` records it: one `backup` gate result.
    const ledger = await runCli(['ledger', 'list', '--gate', 'backup', '--json'], {
      cwd: dir,
      env: pgEnv,
    });
    const records = (
      JSON.parse(ledger.stdout) as {
        records: { subject: string; body: { outcome: string; details: { snapshotId: string } } }[];
      }
    ).records;
    // One `backup` gate result per attempt: the failed ones (lock held), then the passed one.
    expect(records).toHaveLength(attempts);
    expect(records.filter((r) => r.body.outcome === 'failed')).toHaveLength(attempts - 1);
    expect(records[0]).toMatchObject({
      subject: 'datastore:orders-db',
      body: { outcome: 'passed', details: { snapshotId: backups[0]!.result.snapshotId } },
    });
    // Run again: that due time is done, whoever ran it.
    const again = await runCli(args, { cwd: dir, env: pgEnv });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ ok: true, runs: [] });
  });
});
