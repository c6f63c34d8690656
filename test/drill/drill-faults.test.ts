/**
 * DR drills that must not pass, against the real servers: a restored copy that differs from its
 * snapshot, a failing smoke check, a missed RPO, a service that cannot bind its port, a missing
 * redis-server, Ctrl-C in the middle, and a DR target that is the production server. Every one
 * names what failed, exits with the documented code and leaves no sandbox behind.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  PAUSE_AT_ENV,
  PAUSE_FILE_ENV,
  drillExitCode,
  prepareDrill,
  runDrill,
  type DrillResult,
} from '../../src/drill/index.js';
import { REDIS_SERVER_ENV } from '../../src/datastores/index.js';
import { BIN, runCli, type CliRun } from '../helpers/cli.js';
import type { ThrowawayDatabase } from '../helpers/services.js';

import { HEAD, drillWorkspace, type DrillWorkspace } from './drill-workspace.js';
import {
  SERVICE,
  createSeededPostgres,
  drillTmpdir,
  processesUnder,
  sandboxDirs,
  startSeededRedis,
  writeSqlite,
} from './fixtures/drill-servers.js';

function datastores(ordersUrl: string): string {
  return `datastores:
  orders:
    kind: postgres
    connection:
      production: ${ordersUrl}
    repository: local
  cache:
    kind: redis
    connection:
      production: \${env:CACHE_URL}
    repository: local
  notes:
    kind: sqlite
    connection:
      production: data/notes.sqlite
    repository: local
`;
}

/** A `drill.service` running the fixture service with `env` and `checks` (YAML, indented). */
function service(env: string, checks: string): string {
  return `  service:
    command: ${JSON.stringify(`node ${SERVICE}`)}
    env:
${env}    health: /readyz
    start_timeout: 30s
    checks:
${checks}`;
}

/** Resolves when nothing accepts connections on `port` any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      resolve(true);
    });
  });
}

describe('drills that fail', () => {
  let ws: DrillWorkspace;
  let tmp: string;
  let orders: ThrowawayDatabase;
  let cache: ThrowawayDatabase;
  let spec: string;
  /** Undoes what `beforeAll` set up, newest first, even when it stopped half way. */
  const cleanups: (() => Promise<unknown>)[] = [];

  /** Runs `shipshape ARGS` with the spec's `drill:` section set to `drill`. */
  async function cli(args: string[], drill: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    await writeFile(join(ws.dir, 'shipshape.yaml'), `${spec}drill:\n${drill}`);
    return runCli(args, { cwd: ws.dir, env: { ...ws.env, TMPDIR: tmp, ...env } });
  }

  async function expectNoSandboxLeft(): Promise<void> {
    expect(await sandboxDirs(tmp)).toEqual([]);
    expect(await processesUnder(tmp)).toEqual([]);
  }

  beforeAll(async () => {
    tmp = await drillTmpdir();
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    orders = await createSeededPostgres(
      'drill_faults',
      'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL);' +
        "INSERT INTO orders SELECT i, 'customer ' || i FROM generate_series(1, 20) AS i;" +
        'CREATE TABLE customers (id int PRIMARY KEY); INSERT INTO customers VALUES (1), (2)',
    );
    cleanups.push(orders.drop);
    cache = await startSeededRedis([['SET', 'greeting', 'hello']]);
    cleanups.push(cache.drop);
    spec = HEAD + datastores(orders.url);
    ws = await drillWorkspace('drill-faults', datastores(orders.url));
    cleanups.push(() => ws.close());
    ws.env['CACHE_URL'] = cache.url;
    writeSqlite(
      join(ws.dir, 'data', 'notes.sqlite'),
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('a'), ('b')",
    );
    for (const name of ['orders', 'cache', 'notes']) await ws.backup(name);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('fails when a row of the restored PostgreSQL copy is gone, naming the table', async () => {
    const context = { spec: ws.workspace.spec, baseDir: ws.dir, env: ws.env };
    const prepared = await prepareDrill(context, { datastores: ['orders'] });
    let sandboxPort: number | undefined;
    const result = await runDrill(prepared, context, {
      logDir: join(ws.root, 'mismatch'),
      hooks: {
        afterRestore: async (name, target) => {
          expect(name).toBe('orders');
          sandboxPort = Number(new URL(target.connection).port);
          const restored = new pg.Client({ connectionString: target.connection });
          await restored.connect();
          await restored.query('DELETE FROM orders WHERE id = 7');
          await restored.end();
        },
      },
    });
    expect(result.verdict).toBe('failed');
    expect(drillExitCode(result)).toBe(1);
    const [store] = result.datastores;
    expect(store?.fingerprint).toMatchObject({
      state: 'mismatch',
      changed: ['public.orders'],
      missing: [],
      extra: [],
    });
    // The verify phase completed but did not pass; the report marks it.
    expect(store?.phases.find((p) => p.phase === 'verify')).toMatchObject({ ok: false });
    expect(store?.recoveredMs).toBeNull();
    expect(result.rtoMs).toBeNull();
    expect(result.reasons).toEqual([
      'orders: the restored data differs from the snapshot: public.orders (changed)',
    ]);
    // The sandbox server was stopped.
    expect(sandboxPort).toBeGreaterThan(0);
    expect(await refused(sandboxPort!)).toBe(true);
  });

  it('fails on a failing smoke check, naming it (exit 1)', async () => {
    const drill = await cli(
      ['drill', 'run', '--datastores', 'notes'],
      service(
        '      PORT: ${drill:port}\n      NOTES_DB: ${drill:notes}\n',
        '      - name: notes-listed\n        request: GET /notes\n        json: { path: count, equals: 2 }\n' +
          '      - name: notes-many\n        request: GET /notes\n        json: { path: count, equals: 5 }\n',
      ),
    );
    expect(drill.code).toBe(1);
    expect(drill.stdout).toContain('✗ drill failed');
    expect(drill.stdout).toContain(
      '  - service: check notes-many failed: expected status 200, count = 5, got count = 2',
    );
    expect(drill.stdout).not.toContain('notes-listed failed');
    await expectNoSandboxLeft();
  });

  it('fails a missed RPO objective with both figures in the reason', async () => {
    const drill = '  objectives:\n    rpo: 30m\n';
    const planned = await cli(['drill', 'plan', '--datastores', 'notes', '--json'], drill);
    expect(planned.code).toBe(0);
    const { snapshot } = (JSON.parse(planned.stdout) as { plan: DrillResult['plan'] }).plan
      .datastores[0]!;
    const at = new Date(Date.parse(snapshot.consistentAt ?? snapshot.time) + 3_600_000);
    const run = await cli(
      ['drill', 'run', '--datastores', 'notes', '--at', at.toISOString(), '--json'],
      drill,
    );
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as DrillResult;
    expect(result.verdict).toBe('failed');
    expect(result.plan.simulated).toBe(true);
    expect(result.rpoMs).toBe(3_600_000);
    expect(result.objectives.rpo).toEqual({
      objectiveMs: 1_800_000,
      measuredMs: 3_600_000,
      met: false,
    });
    expect(result.reasons).toEqual([
      'RPO objective missed: 1 h of data would be lost, objective 30 m (drill.objectives)',
    ]);
    // Everything else passed: the restore is fine, only the objective is missed.
    expect(result.datastores[0]?.fingerprint).toMatchObject({ state: 'match' });
  });

  describe('faults that stop part of a drill', () => {
    let held: Server;
    let heldPort: number;

    beforeAll(async () => {
      held = createServer();
      await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
      heldPort = (held.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => held.close(resolve));
    });

    it('fails when the service cannot bind its port, and tears the sandboxes down', async () => {
      const drill = await cli(
        ['drill', 'run', '--datastores', 'orders,notes', '--json'],
        service(
          // A fixed port the test holds, instead of ${drill:port}.
          `      PORT: "${heldPort}"\n      DATABASE_URL: \${drill:orders}\n      NOTES_DB: \${drill:notes}\n`,
          '      - name: notes-listed\n        request: GET /notes\n',
        ),
      );
      expect(drill.code).toBe(1);
      const result = JSON.parse(drill.stdout) as DrillResult;
      expect(result.verdict).toBe('failed');
      expect(result.service?.error?.code).toBe('SHIP_PROCESS_EXITED');
      expect(result.service?.error?.hint).toContain('EADDRINUSE');
      expect(result.service?.error?.hint).toContain(String(heldPort));
      expect(result.reasons).toEqual([expect.stringMatching(/^service: SHIP_PROCESS_EXITED: /)]);
      for (const store of result.datastores) {
        expect(store.fingerprint, store.name).toMatchObject({ state: 'match' });
        expect(store.phases.at(-1)).toMatchObject({ phase: 'teardown', ok: true });
      }
      await expectNoSandboxLeft();
    });

    it('errors when redis-server is missing, and tears down the PostgreSQL sandbox (exit 3)', async () => {
      const missing = join(tmp, 'no-such-redis-server');
      const drill = await cli(
        ['drill', 'run', '--datastores', 'orders,cache', '--json'],
        '  objectives:\n    rto: 10m\n',
        { [REDIS_SERVER_ENV]: missing },
      );
      expect(drill.code).toBe(3);
      const result = JSON.parse(drill.stdout) as DrillResult;
      expect(result.verdict).toBe('error');
      const byName = Object.fromEntries(result.datastores.map((d) => [d.name, d]));
      expect(byName['cache']?.error?.code).toBe('SHIP_DATASTORE_TOOL_MISSING');
      expect(byName['cache']?.error?.message).toContain('redis-server');
      expect(byName['cache']?.error?.message).toContain(`${REDIS_SERVER_ENV}=${missing}`);
      expect(result.reasons).toEqual([
        expect.stringMatching(/^cache: SHIP_DATASTORE_TOOL_MISSING: .*redis-server/),
      ]);
      // The PostgreSQL sandbox came up, was verified, then torn down.
      expect(byName['orders']?.error).toBeUndefined();
      expect(byName['orders']?.fingerprint).toMatchObject({ state: 'match' });
      expect(byName['orders']?.phases.map((p) => p.phase)).toContain('teardown');
      expect(result.rtoMs).toBeNull();
      await expectNoSandboxLeft();
    });

    it('stops on SIGINT mid-drill, tears everything down and exits 130', async () => {
      await writeFile(
        join(ws.dir, 'shipshape.yaml'),
        `${spec}drill:\n  objectives:\n    rto: 10m\n`,
      );
      const pause = join(ws.root, 'paused');
      const child = spawn(
        process.execPath,
        [BIN, 'drill', 'run', '--datastores', 'orders,cache', '--json'],
        {
          cwd: ws.dir,
          env: {
            ...process.env,
            ...ws.env,
            CI: '1',
            TMPDIR: tmp,
            [PAUSE_AT_ENV]: 'verify',
            [PAUSE_FILE_ENV]: pause,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
      const state = { exited: false };
      void closed.then(() => (state.exited = true));
      // The latch: the first store to reach `verify` writes the file and waits.
      while (!existsSync(pause) && !state.exited) await new Promise((r) => setTimeout(r, 20));
      expect(state.exited, stderr).toBe(false);
      const during = await sandboxDirs(tmp);
      expect(during.length).toBeGreaterThan(0);
      expect(await processesUnder(tmp)).not.toEqual([]);

      child.kill('SIGINT');
      const code = await closed;
      expect(code, stderr).toBe(130);
      expect(stderr).toContain('SIGINT: stopping the drill and tearing everything down');
      const result = JSON.parse(stdout) as DrillResult;
      expect(result.interrupted).toBe(true);
      expect(result.verdict).toBe('error');
      expect(result.reasons[0]).toBe('the drill was interrupted before it finished');
      expect(result.timeline.map((t) => t.event)).toContain('interrupted');
      await expectNoSandboxLeft();
    });
  });

  it('refuses a DR target that is the production server (exit 2)', async () => {
    // The production database, spelled differently.
    const target = orders.url.replace('127.0.0.1', 'localhost');
    expect(target).not.toBe(orders.url);
    const drill = await cli(
      ['drill', 'run', '--datastores', 'orders'],
      `  targets:\n    orders: ${target}\n`,
    );
    expect(drill.code).toBe(2);
    expect(drill.stderr).toContain('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(drill.stderr).toContain('orders');
    expect(drill.stdout).toBe('');
    // Nothing was restored over production.
    const client = new pg.Client({ connectionString: orders.url });
    await client.connect();
    const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
    await client.end();
    expect(count.rows[0]?.n).toBe(20);
  });
});
