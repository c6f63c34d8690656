/**
 * Drills into DR targets instead of sandboxes. End to end through the built CLI: a PostgreSQL
 * store restored into a separate cluster, a SQLite store into another file and a files store into
 * another directory; the drill passes, the data is in the targets, a second drill replaces what
 * the targets held, production is untouched. Then the identity layer of the isolation check on
 * real MariaDB and Redis servers: the production server under a name the normalisation does not
 * read as the same place is refused by the identity its backup recorded; a separate server is not.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  postgresDriver,
  repositoryReader,
  startMariadbServer,
  startRedisServer,
  withDatastoreRepository,
} from '../../src/datastores/index.js';
import {
  assertIsolated,
  drillTarget,
  normalizeConnection,
  normalizeHost,
  prepareDrill,
  readRecordedIdentities,
  sameEndpoint,
  type DrillContext,
  type DrillResult,
  type PreparedDrill,
  type RecordedIdentity,
} from '../../src/drill/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { createMariadbDatabase, type ThrowawayDatabase } from '../helpers/services.js';

import { drillWorkspace, rejection, type DrillWorkspace } from './drill-workspace.js';
import {
  createSeededMariadb,
  createSeededPostgres,
  drillTmpdir,
  processesUnder,
  sandboxDirs,
  startSeededRedis,
  writeSqlite,
} from './fixtures/drill-servers.js';

/** Rows of `sql` run on the PostgreSQL database `url`. */
async function pgRows<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Names of the tables in the public schema of the PostgreSQL database `url`, sorted. */
async function pgTables(url: string): Promise<string[]> {
  const rows = await pgRows<{ name: string }>(
    url,
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
  );
  return rows.map((r) => r.name);
}

/** The tables and `notes` bodies of the SQLite database `path`. */
function sqliteContents(path: string): { tables: string[]; notes: string[] } {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
      )
      .all()
      .map((r) => r.name);
    const notes = tables.includes('notes')
      ? db
          .prepare<[], { body: string }>('SELECT body FROM notes ORDER BY id')
          .all()
          .map((r) => r.body)
      : [];
    return { tables, notes };
  } finally {
    db.close();
  }
}

/** Every file under `dir` (relative paths, sorted) with its contents. */
async function treeContents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length + 1)] = await readFile(path, 'utf8');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const ORDERS = [
  { id: 1, customer: 'Ada' },
  { id: 2, customer: 'Grace' },
  { id: 3, customer: 'Edsger' },
];
const ASSETS = { 'img/logo.svg': '<svg/>\n', 'index.html': '<h1>shop</h1>\n' };

function targetSpec(ordersUrl: string): string {
  return `datastores:
  orders:
    kind: postgres
    connection:
      production: ${ordersUrl}
    repository: local
    fingerprint: full
    integrity:
      checks:
        - name: three-orders
          sql: SELECT count(*) FROM orders
          equals: 3
  notes:
    kind: sqlite
    connection:
      production: data/notes.sqlite
    repository: local
    integrity:
      checks:
        - name: two-notes
          sql: SELECT count(*) FROM notes
          equals: 2
  assets:
    kind: files
    connection:
      production: data/assets
    repository: local
drill:
  targets:
    orders: \${env:DR_PG_URL}
    notes: dr/notes.sqlite
    assets: dr/assets
  objectives:
    rpo: 1h
`;
}

type CliDrillResult = DrillResult & { report: string };

describe('a drill into DR targets (postgres cluster, sqlite file, files directory)', () => {
  let ws: DrillWorkspace;
  /** TMPDIR of the drills: a drill into targets makes no sandbox there. */
  let tmp: string;
  let orders: ThrowawayDatabase;
  /** The DR PostgreSQL cluster: a server of its own, not the production one. */
  let drUrl: string;
  let drSqlite: string;
  let drAssets: string;
  let planned: { plan: DrillResult['plan'] };
  let first: CliRun;
  let firstResult: CliDrillResult;
  const cleanups: (() => Promise<unknown>)[] = [];

  const cli = (args: string[]): Promise<CliRun> =>
    runCli(args, { cwd: ws.dir, env: { ...ws.env, TMPDIR: tmp } });

  async function drill(): Promise<{ run: CliRun; result: CliDrillResult }> {
    const run = await cli(['drill', 'run', '--json']);
    expect(run.stdout, run.stderr).not.toBe('');
    return { run, result: JSON.parse(run.stdout) as CliDrillResult };
  }

  /** What production holds: it must never change. */
  async function expectProductionUntouched(): Promise<void> {
    expect(await pgTables(orders.url)).toEqual(['orders']);
    expect(await pgRows(orders.url, 'SELECT id, customer FROM orders ORDER BY id')).toEqual(ORDERS);
    expect(sqliteContents(join(ws.dir, 'data', 'notes.sqlite'))).toEqual({
      tables: ['notes'],
      notes: ['a', 'b'],
    });
    expect(await treeContents(join(ws.dir, 'data', 'assets'))).toEqual(ASSETS);
  }

  /** What every DR target must hold after a drill: exactly the snapshot, nothing older. */
  async function expectTargetsRestored(): Promise<void> {
    expect(await pgTables(drUrl)).toEqual(['orders']);
    expect(await pgRows(drUrl, 'SELECT id, customer FROM orders ORDER BY id')).toEqual(ORDERS);
    expect(sqliteContents(drSqlite)).toEqual({ tables: ['notes'], notes: ['a', 'b'] });
    expect(await treeContents(drAssets)).toEqual(ASSETS);
  }

  function expectPassedIntoTargets(run: CliRun, result: CliDrillResult): void {
    expect(result.reasons).toEqual([]);
    expect(result.verdict).toBe('passed');
    expect(run.code, run.stderr).toBe(0);
    expect(result.datastores.map((d) => d.name)).toEqual(['orders', 'notes', 'assets']);
    for (const store of result.datastores) {
      expect(store.error, store.name).toBeUndefined();
      expect(store.placement.kind, store.name).toBe('target');
      expect(store.fingerprint, store.name).toMatchObject({ state: 'match' });
      expect(
        store.checks.every((c) => c.passed),
        store.name,
      ).toBe(true);
      expect(store.recoveredMs, store.name).toBeGreaterThan(0);
    }
    expect(result.datastores.flatMap((d) => d.checks.map((c) => c.name))).toEqual([
      'three-orders',
      'two-notes',
    ]);
  }

  beforeAll(async () => {
    tmp = await drillTmpdir();
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    orders = await createSeededPostgres(
      'drill_targets',
      'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL);' +
        "INSERT INTO orders VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger')",
    );
    cleanups.push(orders.drop);
    ws = await drillWorkspace('drill-targets', targetSpec(orders.url));
    cleanups.push(() => ws.close());
    writeSqlite(
      join(ws.dir, 'data', 'notes.sqlite'),
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('a'), ('b')",
    );
    await mkdir(join(ws.dir, 'data', 'assets', 'img'), { recursive: true });
    for (const [path, text] of Object.entries(ASSETS)) {
      await writeFile(join(ws.dir, 'data', 'assets', path), text);
    }
    const backups = {
      orders: await ws.backup('orders'),
      notes: await ws.backup('notes'),
      assets: await ws.backup('assets'),
    };

    // The DR cluster: a throwaway PostgreSQL server of the test's own (the sandbox machinery,
    // in a directory of its own), then emptied of the snapshot and given stale contents.
    const drBase = await drillTmpdir();
    cleanups.push(() => rm(drBase, { recursive: true, force: true }));
    const context = { spec: ws.workspace.spec, baseDir: ws.dir, env: ws.env };
    const cluster = await withDatastoreRepository('orders', context, async (repo) =>
      postgresDriver.sandbox(
        await repositoryReader(repo, backups.orders.outcome.snapshot.snapshotId, {
          source: 'orders',
        }),
        { baseDir: drBase },
      ),
    );
    cleanups.push(() => cluster.stop());
    drUrl = cluster.target.connection;
    await pgRows(
      drUrl,
      'DROP TABLE orders; CREATE TABLE stale (x int); INSERT INTO stale VALUES (1)',
    );
    ws.env['DR_PG_URL'] = drUrl;

    // Stale contents in the file targets too: a drill replaces them.
    drSqlite = join(ws.dir, 'dr', 'notes.sqlite');
    drAssets = join(ws.dir, 'dr', 'assets');
    await mkdir(drAssets, { recursive: true });
    writeSqlite(drSqlite, 'CREATE TABLE stale (x INTEGER); INSERT INTO stale VALUES (1)');
    await writeFile(join(drAssets, 'stale.txt'), 'old\n');

    const plan = await cli(['drill', 'plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    planned = JSON.parse(plan.stdout) as typeof planned;
    ({ run: first, result: firstResult } = await drill());
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('plans every store into its DR target; one given by reference shows the reference', () => {
    const password = decodeURIComponent(new URL(drUrl).password);
    expect(password).not.toBe('');
    const placements = Object.fromEntries(
      planned.plan.datastores.map((d) => [d.name, d.placement]),
    );
    expect(placements).toEqual({
      // The whole connection is a secret: not printed, but where it comes from is.
      orders: { kind: 'target', target: '${env:DR_PG_URL}' },
      notes: { kind: 'target', target: drSqlite },
      assets: { kind: 'target', target: drAssets },
    });
    expect(JSON.stringify(planned)).not.toContain(password);
    expect(JSON.stringify(planned)).not.toContain(new URL(drUrl).host);
    expect(firstResult.plan.datastores.map((d) => d.placement)).toEqual(
      planned.plan.datastores.map((d) => d.placement),
    );
  });

  it('passes: restored into the targets, fingerprints match, integrity checks pass', () => {
    expectPassedIntoTargets(first, firstResult);
    expect(JSON.stringify(firstResult)).not.toContain(decodeURIComponent(new URL(drUrl).password));
  });

  it('left the snapshot in the targets, their old contents replaced', async () => {
    await expectTargetsRestored();
    expect(existsSync(join(drAssets, 'stale.txt'))).toBe(false);
  });

  it('made no sandbox and left nothing running', async () => {
    expect(await sandboxDirs(tmp)).toEqual([]);
    expect(await processesUnder(tmp)).toEqual([]);
  });

  it('left production untouched', async () => {
    await expectProductionUntouched();
  });

  it('passes again into the same targets, replacing what changed there since', async () => {
    await pgRows(drUrl, "INSERT INTO orders VALUES (4, 'Mallory'); CREATE TABLE leftover (x int)");
    writeSqlite(drSqlite, "INSERT INTO notes (body) VALUES ('c'); CREATE TABLE leftover (x)");
    await writeFile(join(drAssets, 'leftover.txt'), 'changed\n');
    await writeFile(join(drAssets, 'index.html'), '<h1>defaced</h1>\n');

    const second = await drill();
    expectPassedIntoTargets(second.run, second.result);
    expect(second.result.plan.id).not.toBe(firstResult.plan.id);
    await expectTargetsRestored();
    await expectProductionUntouched();
  });
});

describe('assertIsolated by server identity on real MariaDB and Redis', () => {
  let ws: DrillWorkspace;
  let context: DrillContext;
  let tmp: string;
  let accounts: ThrowawayDatabase;
  /** Another database on the production MariaDB server. */
  let sameServer: ThrowawayDatabase;
  let cache: ThrowawayDatabase;
  let prepared: PreparedDrill;
  let identities: Map<string, RecordedIdentity[]>;
  const cleanups: (() => Promise<unknown>)[] = [];

  /** `assertIsolated` with the DR target of `name` at `connection` (as `drill.targets` would). */
  function isolate(name: string, connection: string): Promise<void> {
    const withTarget: PreparedDrill = {
      ...prepared,
      datastores: prepared.datastores.map((d) =>
        d.planned.name !== name
          ? d
          : { ...d, target: drillTarget(name, d.datastore, connection, context, 'production') },
      ),
    };
    // The drill host has no production secrets: the production connections cannot be resolved,
    // so only the identities their backups recorded can tell the target is production.
    const drillHostEnv = { ...context.env };
    delete drillHostEnv.ACCOUNTS_URL;
    delete drillHostEnv.CACHE_URL;
    return assertIsolated(withTarget, {
      ...context,
      env: drillHostEnv,
      recordedIdentities: identities,
    });
  }

  /** Precondition: by name alone, `target` is not the production `connection`. */
  async function expectDifferentByName(
    kind: 'mariadb' | 'redis',
    target: string,
    connection: string,
  ): Promise<void> {
    const [a, b] = await Promise.all([
      normalizeConnection(kind, target, ws.dir),
      normalizeConnection(kind, connection, ws.dir),
    ]);
    expect(sameEndpoint(a, b)).toBeUndefined();
  }

  beforeAll(async () => {
    tmp = await drillTmpdir();
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    accounts = await createSeededMariadb(
      'drill_tgt_prod',
      "CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40)); INSERT INTO accounts VALUES (1, 'ada');",
    );
    cleanups.push(accounts.drop);
    sameServer = await createMariadbDatabase('drill_tgt_dr');
    cleanups.push(sameServer.drop);
    cache = await startSeededRedis([['SET', 'greeting', 'hello']]);
    cleanups.push(cache.drop);
    ws = await drillWorkspace(
      'drill-target-identity',
      'datastores:\n' +
        '  accounts:\n    kind: mariadb\n    connection:\n      production: ${env:ACCOUNTS_URL}\n    repository: local\n' +
        '  cache:\n    kind: redis\n    connection:\n      production: ${env:CACHE_URL}\n    repository: local\n',
    );
    cleanups.push(() => ws.close());
    ws.env['ACCOUNTS_URL'] = accounts.url;
    ws.env['CACHE_URL'] = cache.url;
    context = { spec: ws.workspace.spec, baseDir: ws.dir, env: ws.env };
    await ws.backup('accounts');
    await ws.backup('cache');
    prepared = await prepareDrill(context, { datastores: ['accounts', 'cache'] });
    identities = await readRecordedIdentities(await ws.workspace.evidence(), ['accounts', 'cache']);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('reads the identities the backups recorded: MariaDB instance, Redis run id', () => {
    const port = new URL(accounts.url).port;
    const mariadb = identities.get('accounts') ?? [];
    expect(mariadb).toHaveLength(1);
    expect(mariadb[0]).toMatchObject({ kind: 'mariadb-instance', environment: 'production' });
    // host:port:datadir#server_id
    expect(mariadb[0]?.id).toMatch(new RegExp(`^[^:]+:${port}:/.+#\\d+$`));
    const redis = identities.get('cache') ?? [];
    expect(redis).toHaveLength(1);
    expect(redis[0]).toMatchObject({ kind: 'redis-run-id', environment: 'production' });
    expect(redis[0]?.id).toMatch(/^[0-9a-f]{40}$/);
  });

  it('refuses another database on the production MariaDB server by its recorded identity', async () => {
    const target = sameServer.url;
    await expectDifferentByName('mariadb', target, accounts.url);
    const error = await rejection(isolate('accounts', target));
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('DR target of accounts (mysql://shipshape@127.0.0.1:');
    expect(error.message).toContain('production data store accounts (environment production)');
    expect(error.message).toContain(
      `same mariadb-instance ${identities.get('accounts')![0]!.id} as its backups recorded`,
    );
    expect(error.hint).toContain('drill.targets.accounts');
  });

  it('refuses the production Redis server by its recorded run id', async () => {
    const error = await rejection(isolate('cache', cache.url));
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('DR target of cache');
    expect(error.message).toContain('production data store cache (environment production)');
    expect(error.message).toContain(
      `same redis-run-id ${identities.get('cache')![0]!.id} as its backups recorded`,
    );
    // The password in the target is not shown.
    expect(error.message).not.toContain(decodeURIComponent(new URL(cache.url).password));
  });

  it("reads this machine's own name and wildcard addresses as loopback", () => {
    expect(normalizeHost(hostname())).toBe('localhost');
    expect(normalizeHost('0.0.0.0')).toBe('localhost');
    expect(normalizeHost('[::]')).toBe('localhost');
  });

  it('accepts a genuinely separate MariaDB server', async () => {
    const server = await startMariadbServer({ baseDir: tmp });
    cleanups.push(() => server.stop());
    await expect(isolate('accounts', server.connection)).resolves.toBeUndefined();
  });

  it('accepts a genuinely separate Redis server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-drill-dr-redis-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const server = await startRedisServer(dir, 'dump.rdb');
    cleanups.push(() => server.stop());
    await expect(isolate('cache', server.url)).resolves.toBeUndefined();
  });
});
