import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli, type CliRun } from '../helpers/cli.js';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';

const CANARY = `canary${randomBytes(10).toString('hex')}`;

interface ResultJson {
  datastore: string;
  ok: boolean;
  snapshotId?: string;
  error?: { code: string; exitCode: number };
  recorded?: { seq: number };
  fingerprint?: { mode: string; digest: string } | null;
  consistentPoint?: { kind: string; value: string; sourceTime?: string };
}

describe('shipshape backup run', () => {
  let root: string;
  let dir: string;
  let db: ThrowawayDatabase;
  const env = { ORDERS_PG_PW: CANARY, SHIPSHAPE_DATABASE_URL: '' };
  const runs: CliRun[] = [];
  const run = async (args: string[]) => {
    const result = await runCli(args, { cwd: dir, env });
    runs.push(result);
    return result;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-backup-cli-'));
    dir = join(root, 'demo');
    expect((await runCli(['demo', '--dir', dir], { cwd: root, env })).code).toBe(0);
    // The demo created the `local` repository and data/orders.db; add rows of our own.
    await mkdir(join(dir, 'data', 'uploads'), { recursive: true });
    const sqlite = new Database(join(dir, 'data', 'orders.db'));
    sqlite.exec("INSERT INTO orders (customer, amount_cents) VALUES ('a', 1), ('b', 2)");
    sqlite.close();
    await writeFile(join(dir, 'data', 'uploads', 'invoice.pdf'), randomBytes(5000));
    db = await createPostgresDatabase('backup_cli');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)');
    await client.end();
    const withPassword = db.url.replace('://shipshape@', '://shipshape:${env:ORDERS_PG_PW}@');
    expect(withPassword).not.toBe(db.url);
    const specFile = join(dir, 'shipshape.yaml');
    const spec = (await readFile(specFile, 'utf8')).replace(
      'datastores:\n',
      'datastores:\n' +
        '  uploads:\n    kind: files\n    connection:\n      production: data/uploads\n    repository: local\n' +
        // The test server trusts loopback, so the password is sent nowhere; it must still never show.
        `  orders-pg:\n    kind: postgres\n    connection:\n      production: ${withPassword}\n    repository: local\n` +
        '  orders-pg-down:\n    kind: postgres\n    connection:\n      production: postgres://backup:${env:ORDERS_PG_PW}@127.0.0.1:1/orders\n    repository: local\n' +
        '  cache:\n    kind: redis\n    connection:\n      production: redis://127.0.0.1:1\n    repository: local\n',
    );
    await writeFile(specFile, spec);
  });

  afterAll(async () => {
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('has --help with examples and --json', async () => {
    const help = await run(['backup', 'run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('--env');
  });

  it('backs up each named store, records a passed backup gate result for each', async () => {
    const result = await run([
      'backup',
      'run',
      'orders-db',
      'uploads',
      'orders-pg',
      '--env',
      'production',
      '--json',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as { ok: boolean; results: ResultJson[] };
    expect(body.ok).toBe(true);
    expect(body.results.map((r) => [r.datastore, r.ok])).toEqual([
      ['orders-db', true],
      ['uploads', true],
      ['orders-pg', true],
    ]);
    const pgResult = body.results[2]!;
    expect(pgResult.consistentPoint?.kind).toBe('postgres-lsn');
    expect(pgResult.fingerprint?.mode).toBe('counts');

    const snapshots = await run(['repo', 'snapshots', '--repo', 'local', '--json']);
    expect(snapshots.code, snapshots.stderr).toBe(0);
    for (const r of body.results) expect(snapshots.stdout).toContain(r.snapshotId!);

    const list = await run(['backup', 'list', 'orders-pg', 'uploads', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as {
      snapshots: {
        datastore: string;
        id: string;
        tags: string[];
        fingerprint: { digest: string };
      }[];
    };
    expect(listed.snapshots.map((s) => [s.datastore, s.id])).toEqual([
      ['orders-pg', pgResult.snapshotId],
      ['uploads', body.results[1]!.snapshotId],
    ]);
    expect(listed.snapshots[0]!.tags).toEqual(['env:production']);
    expect(listed.snapshots[0]!.fingerprint.digest).toBe(pgResult.fingerprint!.digest);
    const table = await run(['backup', 'list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/orders-db +[0-9a-f]{12} /);

    const ledger = await run(['ledger', 'show', String(pgResult.recorded!.seq), '--json']);
    expect(ledger.code, ledger.stderr).toBe(0);
    const record = JSON.parse(ledger.stdout) as {
      record: { body: Record<string, unknown> };
    } & Record<string, unknown>;
    const text = JSON.stringify(record);
    expect(text).toContain('"gate":"backup"');
    expect(text).toContain('"outcome":"passed"');
    expect(text).toContain(pgResult.snapshotId!);
    expect(text).toContain('postgres-system-identifier');
    expect(text).toContain(pgResult.fingerprint!.digest);
  });

  it('a failing store exits with its code, records a failed backup, writes no snapshot and leaks no secret', async () => {
    const before = await run(['repo', 'snapshots', '--repo', 'local', '--json']);
    const result = await run(['backup', 'run', 'orders-pg-down', '--env', 'production', '--json']);
    expect(result.code).toBe(3);
    const body = JSON.parse(result.stdout) as { ok: boolean; results: ResultJson[] };
    expect(body.ok).toBe(false);
    expect(body.results[0]!.error?.code).toBe('SHIP_DATASTORE_UNREACHABLE');
    const ledger = await run(['ledger', 'show', String(body.results[0]!.recorded!.seq), '--json']);
    const failed = JSON.stringify(JSON.parse(ledger.stdout));
    expect(failed).toContain('"gate":"backup"');
    expect(failed).toContain('"outcome":"failed"');
    expect(failed).toContain('SHIP_DATASTORE_UNREACHABLE');
    const after = await run(['repo', 'snapshots', '--repo', 'local', '--json']);
    expect(after.stdout).toBe(before.stdout);

    // Without --json: a Redis store nobody listens for, reported in text on stderr.
    const text = await run(['backup', 'run', 'cache', '--env', 'production']);
    expect(text.code).toBe(3);
    expect(text.stderr).toContain('SHIP_DATASTORE_UNREACHABLE');
    for (const r of runs) {
      expect(r.stdout).not.toContain(CANARY);
      expect(r.stderr).not.toContain(CANARY);
    }
  });
});
