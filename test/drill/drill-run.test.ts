/**
 * A full DR drill through the built CLI, against the real servers: PostgreSQL, MariaDB, Redis,
 * SQLite and a files tree are backed up, then `drill run --json` restores all five into sandboxes
 * in parallel, verifies fingerprints and integrity checks, starts the service on the restored
 * copies and smoke-tests it. The reports, `drill report`, `drill history` and the ledger all carry
 * the same run, and nothing is left running.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { exactDuration, type DrillResult } from '../../src/drill/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import type { ThrowawayDatabase } from '../helpers/services.js';

import { drillWorkspace, type DrillWorkspace } from './drill-workspace.js';
import {
  SERVICE,
  createSeededMariadb,
  createSeededPostgres,
  drillTmpdir,
  processesUnder,
  sandboxDirs,
  startSeededRedis,
  writeSqlite,
} from './fixtures/drill-servers.js';

const STORES = ['orders', 'accounts', 'cache', 'notes', 'assets'] as const;

function spec(urls: { orders: string; accounts: string }): string {
  return `datastores:
  orders:
    kind: postgres
    connection:
      production: ${urls.orders}
    repository: local
    fingerprint: full
    integrity:
      checks:
        - name: three-orders
          sql: SELECT count(*) FROM orders
          equals: 3
        - name: no-negative-totals
          sql: SELECT count(*) FROM orders WHERE total < 0
          equals: 0
  accounts:
    kind: mariadb
    connection:
      production: ${urls.accounts}
    repository: local
    integrity:
      checks:
        - name: has-accounts
          sql: SELECT count(*) FROM accounts
          min: 2
  cache:
    kind: redis
    connection:
      production: \${env:CACHE_URL}
    repository: local
    integrity:
      checks:
        - name: greeting
          key: greeting
          equals: hello
        - name: queue
          key: queue
          type: list
          min: 3
  notes:
    kind: sqlite
    connection:
      production: data/notes.sqlite
    repository: local
    integrity:
      checks:
        - name: has-notes
          sql: SELECT count(*) FROM notes
          min: 1
  assets:
    kind: files
    connection:
      production: data/assets
    repository: local
drill:
  objectives:
    rto: 10m
    rpo: 1h
  service:
    command: ${JSON.stringify(`node ${SERVICE}`)}
    env:
      PORT: \${drill:port}
      DATABASE_URL: \${drill:orders}
      REDIS_URL: \${drill:cache}
      NOTES_DB: \${drill:notes}
    health: /readyz
    checks:
      - name: orders-listed
        request: GET /orders
        json:
          path: count
          equals: 3
      - name: first-order
        request: GET /orders
        json:
          path: first
          equals: Ada
      - name: greeting-cached
        request: GET /cache/greeting
        body_contains: hello
      - name: notes-listed
        request: GET /notes
        json:
          path: count
          equals: 2
`;
}

describe('a full drill over postgres, mariadb, redis, sqlite and files', () => {
  let ws: DrillWorkspace;
  let tmp: string;
  let orders: ThrowawayDatabase;
  let accounts: ThrowawayDatabase;
  let cache: ThrowawayDatabase;
  let drill: CliRun;
  let result: DrillResult & { recorded?: { seq: number }; report: string };
  /** Undoes what `beforeAll` set up, newest first, even when it stopped half way. */
  const cleanups: (() => Promise<unknown>)[] = [];

  const cli = (args: string[]): Promise<CliRun> =>
    runCli(args, { cwd: ws.dir, env: { ...ws.env, TMPDIR: tmp } });

  beforeAll(async () => {
    tmp = await drillTmpdir();
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    orders = await createSeededPostgres(
      'drill_full',
      'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total int NOT NULL);' +
        "INSERT INTO orders VALUES (1, 'Ada', 1200), (2, 'Grace', 40), (3, 'Edsger', 999)",
    );
    cleanups.push(orders.drop);
    accounts = await createSeededMariadb(
      'drill_full',
      'CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL);' +
        "INSERT INTO accounts VALUES (1, 'ada'), (2, 'grace');",
    );
    cleanups.push(accounts.drop);
    cache = await startSeededRedis([
      ['SET', 'greeting', 'hello'],
      ['RPUSH', 'queue', 'a', 'b', 'c'],
    ]);
    cleanups.push(cache.drop);
    ws = await drillWorkspace('drill-full', spec({ orders: orders.url, accounts: accounts.url }));
    cleanups.push(() => ws.close());
    // The Redis server's password, by reference as the spec requires.
    ws.env['CACHE_URL'] = cache.url;
    writeSqlite(
      join(ws.dir, 'data', 'notes.sqlite'),
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('a'), ('b')",
    );
    await mkdir(join(ws.dir, 'data', 'assets', 'img'), { recursive: true });
    await writeFile(join(ws.dir, 'data', 'assets', 'index.html'), '<h1>shop</h1>\n');
    await writeFile(join(ws.dir, 'data', 'assets', 'img', 'logo.svg'), '<svg/>\n');
    for (const name of STORES) await ws.backup(name);

    drill = await cli(['drill', 'run', '--json']);
    result = JSON.parse(drill.stdout) as typeof result;
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('passes with every figure: phases, fingerprints, integrity checks, RTO and RPO', () => {
    expect(result.reasons).toEqual([]);
    expect(result.verdict).toBe('passed');
    expect(drill.code).toBe(0);
    expect(result.rtoMs).toBeGreaterThan(0);
    expect(result.objectives.rto).toMatchObject({ objectiveMs: 600_000, met: true });
    expect(result.objectives.rto?.measuredMs).toBe(result.rtoMs);
    expect(result.objectives.rpo).toMatchObject({ objectiveMs: 3_600_000, met: true });
    expect(result.rpoMs).toBe(Math.max(...result.datastores.map((d) => d.rpoMs)));
    expect(result.datastores.map((d) => [d.name, d.kind])).toEqual([
      ['orders', 'postgres'],
      ['accounts', 'mariadb'],
      ['cache', 'redis'],
      ['notes', 'sqlite'],
      ['assets', 'files'],
    ]);
    for (const store of result.datastores) {
      expect(store.error, store.name).toBeUndefined();
      expect(store.placement).toEqual({ kind: 'sandbox' });
      const phases = store.phases.map((p) => p.phase);
      expect(phases, store.name).toEqual(expect.arrayContaining(['fetch', 'restore', 'verify']));
      expect(phases.at(-1), store.name).toBe('teardown');
      for (const phase of store.phases) {
        expect(phase.ok, `${store.name} ${phase.phase}`).toBe(true);
        expect(phase.durationMs).toBeGreaterThanOrEqual(0);
        expect(phase.endMs).toBeGreaterThanOrEqual(phase.startMs);
      }
      expect(store.phases.find((p) => p.phase === 'fetch')!.durationMs).toBeGreaterThan(0);
      expect(store.fingerprint, store.name).toMatchObject({ state: 'match' });
      expect(store.recoveredMs).toBeGreaterThan(0);
      expect(store.recoveredMs).toBeLessThanOrEqual(result.rtoMs!);
      expect(store.rpoMs).toBeGreaterThanOrEqual(0);
    }
    const checks = Object.fromEntries(
      result.datastores.map((d) => [d.name, d.checks.map((c) => [c.name, c.kind, c.passed])]),
    );
    expect(checks).toEqual({
      orders: [
        ['three-orders', 'sql', true],
        ['no-negative-totals', 'sql', true],
      ],
      accounts: [['has-accounts', 'sql', true]],
      cache: [
        ['greeting', 'key', true],
        ['queue', 'key', true],
      ],
      notes: [['has-notes', 'sql', true]],
      assets: [],
    });
  });

  it('started the service on the restored copies and its HTTP checks passed', () => {
    const service = result.service!;
    expect(service.error).toBeUndefined();
    expect(service.port).toBeGreaterThan(0);
    expect(service.phases.map((p) => p.phase)).toEqual(['start', 'smoke', 'teardown']);
    expect(service.checks.map((c) => [c.name, c.passed])).toEqual([
      ['orders-listed', true],
      ['first-order', true],
      ['greeting-cached', true],
      ['notes-listed', true],
    ]);
    // The RTO ends when the service was verified, after every store was.
    const smoke = service.phases.find((p) => p.phase === 'smoke')!;
    expect(result.rtoMs).toBeGreaterThanOrEqual(smoke.endMs - 1);
    expect(service.logTail).toContain(`listening on ${service.port}`);
  });

  it('wrote the md, html and json reports with RTO/RPO and every store', async () => {
    const dir = join(ws.dir, '.shipshape', 'drills', result.plan.id);
    expect(result.report).toBe(dir);
    const json = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as {
      result: DrillResult;
    };
    expect(json.result.plan.id).toBe(result.plan.id);
    expect(json.result.verdict).toBe('passed');
    const md = await readFile(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('## Verdict: ✅ PASSED');
    expect(md).toContain(
      `| **RTO** | 10 m (from drill.objectives) | ${exactDuration(result.rtoMs!)} | met |`,
    );
    expect(md).toContain(
      `| **RPO** | 1 h (from drill.objectives) | ${exactDuration(result.rpoMs)} | met |`,
    );
    for (const name of STORES) expect(md).toContain(`| **${name}** |`);
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<html');
    for (const name of STORES) expect(html).toContain(name);
  });

  it('round-trips through `drill report --format json` and is listed by `drill history`', async () => {
    const report = await cli(['drill', 'report', result.plan.id, '--format', 'json']);
    expect(report.code).toBe(0);
    const parsed = JSON.parse(report.stdout) as { ledger: { seq: number }; result: DrillResult };
    // `drill run --json` prints the result with where it was recorded and the report folder.
    expect({ ...parsed.result, recorded: result.recorded, report: result.report }).toEqual(result);
    expect(parsed.ledger.seq).toBe(result.recorded!.seq);

    const history = await cli(['drill', 'history', '--json']);
    expect(history.code).toBe(0);
    const runs = (JSON.parse(history.stdout) as { runs: { runId: string; verdict: string }[] })
      .runs;
    expect(runs).toEqual([expect.objectContaining({ runId: result.plan.id, verdict: 'passed' })]);
  });

  it('recorded a passed dr-drill gate result in the ledger', async () => {
    const ledger = await ws.workspace.evidence();
    const record = await ledger.get(result.recorded!.seq);
    expect(record).toMatchObject({
      kind: 'gate-result',
      body: { gate: 'dr-drill', outcome: 'passed' },
    });
  });

  it('left no sandbox directory or server process behind', async () => {
    expect(await sandboxDirs(tmp)).toEqual([]);
    expect(await processesUnder(tmp)).toEqual([]);
  });
});
