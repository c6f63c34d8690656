/**
 * `drill run --keep` through the built CLI: the PostgreSQL, MariaDB, Redis and SQLite sandboxes
 * stay up after the CLI exited, each is reachable without a password by the connection the
 * result gives, and the printed stop command stops its server and removes its data.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DrillResult, KeptSandboxOutcome } from '../../src/drill/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';

import { drillWorkspace } from './drill-workspace.js';
import {
  createSeededMariadb,
  createSeededPostgres,
  drillTmpdir,
  processesUnder,
  sandboxDirs,
  startSeededRedis,
  writeSqlite,
} from './fixtures/drill-servers.js';

const STORES = ['orders', 'accounts', 'cache', 'notes'] as const;

function spec(urls: { orders: string; accounts: string }): string {
  return `datastores:
  orders:
    kind: postgres
    connection:
      production: ${urls.orders}
    repository: local
  accounts:
    kind: mariadb
    connection:
      production: ${urls.accounts}
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

/** Runs `command` with sh, as a user would paste it. */
function sh(command: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stderr });
    });
  });
}

/** True while `pid` is a live process (an exited, unreaped zombie does not count). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  // pid (comm) STATE …: comm may hold spaces and parentheses, the state follows the last `)`.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** One RESP exchange over a unix socket: sends inline `commands`, returns the raw replies. */
function redisOverSocket(path: string, commands: string[], replies: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.split('\r\n').length - 1 >= replies) {
        socket.end();
        resolve(text);
      }
    });
    socket.write(commands.map((c) => `${c}\r\n`).join(''));
  });
}

describe('drill run --keep', () => {
  /** Undone in reverse order after the tests, whatever they left up. */
  const cleanups: (() => Promise<unknown>)[] = [];
  let tmp: string;
  let drill: CliRun;
  let result: DrillResult & { report: string };
  let kept: Record<string, KeptSandboxOutcome>;

  beforeAll(async () => {
    tmp = await drillTmpdir();
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    const orders = await createSeededPostgres(
      'drill_keep',
      "CREATE TABLE orders (id int PRIMARY KEY, customer text); INSERT INTO orders VALUES (1, 'Ada'), (2, 'Grace')",
    );
    cleanups.push(orders.drop);
    const accounts = await createSeededMariadb(
      'drill_keep',
      'CREATE TABLE accounts (id INT PRIMARY KEY); INSERT INTO accounts VALUES (1), (2), (3);',
    );
    cleanups.push(accounts.drop);
    const cache = await startSeededRedis([['SET', 'greeting', 'hello']]);
    cleanups.push(cache.drop);
    const ws = await drillWorkspace(
      'drill-keep',
      spec({ orders: orders.url, accounts: accounts.url }),
    );
    cleanups.push(() => ws.close());
    ws.env['CACHE_URL'] = cache.url;
    writeSqlite(
      join(ws.dir, 'data', 'notes.sqlite'),
      "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('kept')",
    );
    for (const name of STORES) await ws.backup(name);

    drill = await runCli(['drill', 'run', '--keep', '--json'], {
      cwd: ws.dir,
      env: { ...ws.env, TMPDIR: tmp },
    });
    result = JSON.parse(drill.stdout) as typeof result;
    kept = Object.fromEntries(
      result.datastores.flatMap((d) => (d.kept === undefined ? [] : [[d.name, d.kept]])),
    );
    for (const sandbox of Object.values(kept)) cleanups.push(() => sh(sandbox.stop));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('passes and describes every sandbox it kept, without a password', () => {
    expect(result.reasons).toEqual([]);
    expect(drill.code).toBe(0);
    expect(result.plan.keep).toBe(true);
    expect(Object.keys(kept).sort()).toEqual([...STORES].sort());
    for (const [name, sandbox] of Object.entries(kept)) {
      expect(sandbox.dataDir.startsWith(`${tmp}/shipshape-`), name).toBe(true);
      expect(sandbox.stop, name).toContain(sandbox.dataDir);
      expect(sandbox.connection, name).not.toContain('[REDACTED]');
      expect(sandbox.connection, name).not.toMatch(/:\/\/[^/@]*:[^/@]*@/);
      expect(existsSync(sandbox.dataDir), name).toBe(true);
    }
    expect(kept['orders']!.connection).toMatch(
      new RegExp(`^postgres://shipshape@/restored\\?host=${tmp}/.+/run&port=\\d+$`),
    );
    expect(kept['accounts']!.connection).toMatch(/^mysql:\/\/root@localhost\/restored\?socket=/);
    expect(kept['cache']!.connection).toBe(`unix://${kept['cache']!.dataDir}/redis.sock`);
    expect(kept['notes']!.connection).toBe(join(kept['notes']!.dataDir, 'restored.sqlite'));
    expect(kept['notes']!.pid).toBeUndefined();
    for (const name of ['orders', 'accounts', 'cache']) expect(kept[name]!.pid).toBeGreaterThan(0);
  });

  it('lists the kept sandboxes and their stop commands in the report', async () => {
    const md = await readFile(join(result.report, 'report.md'), 'utf8');
    expect(md).toContain('Sandboxes left running');
    for (const name of STORES) expect(md).toContain(`stop ${name}: `);
  });

  it('leaves the servers running after the CLI exited, reachable by the printed connection', async () => {
    for (const name of ['orders', 'accounts', 'cache']) {
      expect(await alive(kept[name]!.pid!), name).toBe(true);
    }
    const client = new pg.Client({ connectionString: kept['orders']!.connection });
    await client.connect();
    try {
      const rows = await client.query<{ customer: string }>(
        'SELECT customer FROM orders ORDER BY id',
      );
      expect(rows.rows.map((r) => r.customer)).toEqual(['Ada', 'Grace']);
    } finally {
      await client.end();
    }

    const socket = new URL(kept['accounts']!.connection).searchParams.get('socket')!;
    const { stdout: count } = await promisify(execFile)('mariadb', [
      '--no-defaults',
      `--socket=${socket}`,
      '--user=root',
      '--batch',
      '--skip-column-names',
      'restored',
      '-e',
      'SELECT count(*) FROM accounts',
    ]);
    expect(count.trim()).toBe('3');

    const replies = await redisOverSocket(
      kept['cache']!.connection.slice('unix://'.length),
      ['PING', 'GET greeting'],
      3,
    );
    expect(replies).toBe('+PONG\r\n$5\r\nhello\r\n');

    const notes = new Database(kept['notes']!.connection, { readonly: true });
    try {
      expect(notes.prepare('SELECT body FROM notes').pluck().all()).toEqual(['kept']);
    } finally {
      notes.close();
    }
  });

  it('stops each sandbox and removes its data with the printed stop command', async () => {
    for (const [name, sandbox] of Object.entries(kept)) {
      const stopped = await sh(sandbox.stop);
      expect(stopped, name).toMatchObject({ code: 0 });
      if (sandbox.pid !== undefined) expect(await alive(sandbox.pid), name).toBe(false);
      expect(existsSync(sandbox.dataDir), name).toBe(false);
    }
    expect(await sandboxDirs(tmp)).toEqual([]);
    expect(await processesUnder(tmp)).toEqual([]);
  });
});
