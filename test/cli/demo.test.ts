import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('shipshape demo', () => {
  let root: string;
  const env = { SHIPSHAPE_DATABASE_URL: '' };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-demo-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the workspace, records a validate gate result and verifies the ledger', async () => {
    const run = await runCli(['demo', '--dir', 'ws', '--json'], { cwd: root, env });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      dir: string;
      evidence: { gate: string; outcome: string; seq: number }[];
      backup: { snapshotId: string };
      drill: {
        id: string;
        verdict: string;
        rtoMs: number;
        rpoMs: number;
        reasons: string[];
        report: string;
      };
      ledger: { ok: boolean; records: number; signedThrough: number };
    };
    expect(report.dir).toBe(join(root, 'ws'));
    expect(report.evidence).toEqual([
      expect.objectContaining({ gate: 'validate', outcome: 'passed', seq: 1 }),
      expect.objectContaining({ gate: 'backup', outcome: 'passed', seq: 2 }),
      expect.objectContaining({ gate: 'dr-drill', outcome: 'passed', seq: 3 }),
    ]);
    expect(report.ledger).toMatchObject({ ok: true, records: 3, signedThrough: 3 });
    // The drill restored the backup into a sandbox, started the service on it and checked it.
    expect(report.drill.verdict, report.drill.reasons.join('; ')).toBe('passed');
    expect(report.drill.rtoMs).toBeGreaterThan(0);
    expect(report.drill.rpoMs).toBeGreaterThanOrEqual(0);
    const html = await readFile(report.drill.report, 'utf8');
    expect(html).toContain(report.drill.id);
    const history = await runCli(['drill', 'history', '--json'], { cwd: join(root, 'ws'), env });
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout)).toMatchObject({
      runs: [{ runId: report.drill.id, verdict: 'passed' }],
    });
    expect(report.backup).toMatchObject({
      datastore: 'orders-db',
      status: { status: 'ok', alerting: false, rpoSeconds: 6 * 3600 },
    });
    const status = await runCli(['backup', 'status', '--json'], { cwd: join(root, 'ws'), env });
    expect(status.code, status.stderr).toBe(0);
    const list = await runCli(['backup', 'list', 'orders-db', '--json'], {
      cwd: join(root, 'ws'),
      env,
    });
    expect(JSON.parse(list.stdout)).toMatchObject({
      snapshots: [{ datastore: 'orders-db', id: report.backup.snapshotId }],
    });
    expect((await stat(join(root, 'ws/.shipshape/keys/ledger.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(root, 'ws/.gitignore'), 'utf8')).toContain('.shipshape/');
    expect(await readFile(join(root, 'ws/service/server.mjs'), 'utf8')).toContain('createServer');
  });

  it('prints what it did as text', async () => {
    const run = await runCli(['demo', '--dir', 'text'], { cwd: root, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('spec check');
    expect(run.stdout).toContain('ledger verify');
    expect(run.stdout).toContain('backup status');
    expect(run.stdout).toMatch(
      /dr drill +passed: .*RTO [\d.]+ (ms|s|m)\b.*, RPO [\d.]+ (ms|s|m|h|d)\b/,
    );
    expect(run.stdout).toContain('ledger list --spec text/shipshape.yaml');
  });

  it('refuses a non-empty directory without --force', async () => {
    const run = await runCli(['demo', '--dir', 'ws'], { cwd: root, env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('SHIP_DEMO_DIR_NOT_EMPTY');
    expect(run.stderr).toContain('--force');
    const forced = await runCli(['demo', '--dir', 'ws', '--force', '--json'], { cwd: root, env });
    expect(forced.code, forced.stderr).toBe(0);
    // The ledger and the repository survive: a second demo run appends to the same chain.
    expect((JSON.parse(forced.stdout) as { ledger: { records: number } }).ledger.records).toBe(6);
  });

  it('detects a tampered ledger and verifies an export offline', async () => {
    const spec = join(root, 'ws/shipshape.yaml');
    const exported = join(root, 'export.jsonl');
    expect(
      (await runCli(['ledger', 'export', '--spec', spec, '--out', exported], { cwd: root, env }))
        .code,
    ).toBe(0);
    const offline = await runCli(
      [
        'ledger',
        'verify',
        '--file',
        exported,
        '--public-key',
        join(root, 'ws/ledger.pub.pem'),
        '--json',
      ],
      { cwd: root, env },
    );
    expect(offline.code, offline.stdout).toBe(0);

    const db = new Database(join(root, 'ws/.shipshape/state.db'));
    db.prepare("UPDATE ledger_records SET subject = 'forged' WHERE seq = 1").run();
    db.close();
    const verify = await runCli(['ledger', 'verify', '--spec', spec, '--json'], { cwd: root, env });
    expect(verify.code).toBe(10);
    const report = JSON.parse(verify.stdout) as { ok: boolean; problems: { code: string }[] };
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.code)).toContain('SHIP_LEDGER_HASH_MISMATCH');

    const lines = (await readFile(exported, 'utf8')).trimEnd().split('\n');
    const forged = lines.map((l) => l.replace('"subject":"orders-demo"', '"subject":"forged"'));
    await writeFile(exported, `${forged.join('\n')}\n`);
    const offlineForged = await runCli(
      ['ledger', 'verify', '--file', exported, '--public-key', join(root, 'ws/ledger.pub.pem')],
      { cwd: root, env },
    );
    expect(offlineForged.code).toBe(10);
  });
});

describe('shipshape CLI conventions', () => {
  const commands = [
    ['demo'],
    ['init'],
    ['spec', 'check'],
    ['spec', 'schema'],
    ['ledger', 'list'],
    ['ledger', 'show'],
    ['ledger', 'verify'],
    ['ledger', 'export'],
    ['store', 'migrate'],
    ['store', 'status'],
  ];

  it.each(commands)('%s %s has --help with examples and --json', async (...command) => {
    const run = await runCli([...command.filter(Boolean), '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Examples:');
    expect(run.stdout).toContain('--json');
  });

  it('reports an unknown flag as a usage error (exit 2), as JSON with --json', async () => {
    const run = await runCli(['spec', 'check', '--nope', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { code: 'SHIP_CLI_USAGE' } });
  });

  it('reports a missing spec with a hint to run init (exit 2)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-empty-'));
    const run = await runCli(['spec', 'check'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('SHIP_SPEC_NOT_FOUND');
    expect(run.stderr).toContain('shipshape init');
    await rm(dir, { recursive: true });
  });
});
