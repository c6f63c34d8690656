import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runDatastoreRestore } from '../../src/datastores/index.js';
import { Workspace } from '../../src/workspace/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';

const CANARY = `canary${randomBytes(10).toString('hex')}`;

interface BackupJson {
  results: {
    datastore: string;
    ok: boolean;
    snapshotId: string;
    consistentPoint: { sourceTime: string };
  }[];
}

interface RestoreJson {
  ok: boolean;
  snapshot: { id: string; consistentAt: string | null };
  target: string;
  fingerprint: { state: string; changed?: string[] };
  recorded?: { seq: number };
  error?: { code: string };
}

function rows(file: string): { id: number; item: string | null; data: Buffer | null }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id, item, data FROM orders ORDER BY id').all() as {
      id: number;
      item: string | null;
      data: Buffer | null;
    }[];
  } finally {
    db.close();
  }
}

describe('shipshape restore', () => {
  let root: string;
  let dir: string;
  let source: ThrowawayDatabase;
  let target: ThrowawayDatabase;
  const env = { ORDERS_PG_PW: CANARY, SHIPSHAPE_DATABASE_URL: '' };
  const runs: CliRun[] = [];
  const run = async (args: string[]) => {
    const result = await runCli(args, { cwd: dir, env });
    runs.push(result);
    return result;
  };
  let first: BackupJson['results'][number];
  let second: BackupJson['results'][number];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-restore-cli-'));
    dir = join(root, 'ws');
    expect((await runCli(['demo', '--dir', dir], { cwd: root, env })).code).toBe(0);
    source = await createPostgresDatabase('restore_src');
    target = await createPostgresDatabase('restore_dst');
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    await client.query(
      "CREATE TABLE items (id int PRIMARY KEY, name text, blob bytea); INSERT INTO items SELECT g, 'ünï ' || g, decode('00ff', 'hex') FROM generate_series(1, 50) g; INSERT INTO items VALUES (51, NULL, NULL)",
    );
    await client.end();
    const specFile = join(dir, 'shipshape.yaml');
    const withPassword = source.url.replace('://shipshape@', '://shipshape:${env:ORDERS_PG_PW}@');
    const spec = (await readFile(specFile, 'utf8'))
      .replace(
        'repositories:\n',
        'repositories:\n  restore-repo:\n    url: .shipshape/restore-backups\n    key: ${file:.shipshape/keys/repository.key}\n',
      )
      .replace(
        'datastores:\n',
        'datastores:\n' +
          '  shop-db:\n    kind: sqlite\n    connection:\n      production: data/shop.db\n    repository: restore-repo\n    fingerprint: full\n' +
          `  items-pg:\n    kind: postgres\n    connection:\n      production: ${withPassword}\n    repository: restore-repo\n    fingerprint: full\n` +
          // The fingerprint reads a marker the restore does not write: a target whose marker
          // differs stands for restored data that differs from the snapshot.
          `  cmd-store:\n    kind: command\n    connection:\n      production: ${join(dir, 'cmd-src')}\n    repository: restore-repo\n` +
          '    command:\n' +
          '      backup: cat "$SHIPSHAPE_CONNECTION/data"\n' +
          '      restore: mkdir -p "$SHIPSHAPE_CONNECTION" && cat > "$SHIPSHAPE_CONNECTION/data"\n' +
          '      fingerprint: cat "$SHIPSHAPE_CONNECTION/marker"\n',
      );
    await writeFile(specFile, spec);
    expect((await run(['repo', 'init', '--repo', 'restore-repo'])).code).toBe(0);
    await mkdir(join(dir, 'cmd-src'), { recursive: true });
    await writeFile(join(dir, 'cmd-src', 'data'), 'payload');
    await writeFile(join(dir, 'cmd-src', 'marker'), 'v1');
    await mkdir(join(dir, 'data'), { recursive: true });
    const db = new Database(join(dir, 'data', 'shop.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, data BLOB)');
    const insert = db.prepare('INSERT INTO orders (item, data) VALUES (?, ?)');
    insert.run('grüße 🚢', randomBytes(100));
    insert.run(null, null);
    const one = await run(['backup', 'run', 'shop-db', 'items-pg', 'cmd-store', '--json']);
    expect(one.code, one.stdout + one.stderr).toBe(0);
    first = (JSON.parse(one.stdout) as BackupJson).results[0]!;
    insert.run('third', Buffer.alloc(0));
    db.close();
    const two = await run(['backup', 'run', 'shop-db', '--json']);
    expect(two.code, two.stdout + two.stderr).toBe(0);
    second = (JSON.parse(two.stdout) as BackupJson).results[0]!;
  });

  afterAll(async () => {
    await source.drop();
    await target.drop();
    await rm(root, { recursive: true, force: true });
    for (const r of runs) expect(r.stdout + r.stderr).not.toContain(CANARY);
  });

  it('has --help with examples, --json and its exit codes', async () => {
    const help = await run(['restore', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('--at <time>');
    expect(help.stdout).toContain('1 fingerprint mismatch');
  });

  it('restores the newest sqlite snapshot into a new file, verifies it and records an event', async () => {
    const result = await run(['restore', 'shop-db', '--to', 'restored/latest.db', '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as RestoreJson;
    expect(body).toMatchObject({
      ok: true,
      snapshot: { id: second.snapshotId },
      target: join(dir, 'restored/latest.db'),
      fingerprint: { state: 'match' },
    });
    expect(rows(join(dir, 'restored/latest.db'))).toEqual(rows(join(dir, 'data/shop.db')));
    const shown = await run(['ledger', 'show', String(body.recorded!.seq), '--json']);
    const text = JSON.stringify(JSON.parse(shown.stdout));
    expect(text).toContain('"type":"datastore-restored"');
    expect(text).toContain(second.snapshotId);
    expect(text).toContain('"state":"match"');
  });

  it('refuses a non-empty target without --force (exit 2) and replaces it with --force', async () => {
    const refused = await run(['restore', 'shop-db', '--to', 'restored/latest.db']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('SHIP_DATASTORE_TARGET_NOT_EMPTY');
    expect(refused.stderr).toContain('--force');
    // The refusal is evidence too.
    const listed = await run(['ledger', 'list', '--kind', 'event', '--json']);
    const { records } = JSON.parse(listed.stdout) as {
      records: { body: { type: string; details: Record<string, unknown> } }[];
    };
    const failed = records.filter((r) => r.body.type === 'datastore-restore-failed');
    expect(failed.map((r) => r.body.details.code)).toContain('SHIP_DATASTORE_TARGET_NOT_EMPTY');
    expect(failed[0]?.body.details.target).toBe('restored/latest.db');
    const forced = await run([
      'restore',
      'shop-db',
      '--to',
      'restored/latest.db',
      '--snapshot',
      first.snapshotId.slice(0, 10),
      '--force',
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('matches');
    expect(rows(join(dir, 'restored/latest.db'))).toHaveLength(2);
  });

  it('--at picks the newest snapshot consistent at or before the time', async () => {
    const at = await run([
      'restore',
      'shop-db',
      '--at',
      first.consistentPoint.sourceTime,
      '--to',
      'restored/at.db',
      '--json',
    ]);
    expect(at.code, at.stderr).toBe(0);
    expect((JSON.parse(at.stdout) as RestoreJson).snapshot.id).toBe(first.snapshotId);
    expect(rows(join(dir, 'restored/at.db')).map((r) => r.item)).toEqual(['grüße 🚢', null]);

    const before = await run([
      'restore',
      'shop-db',
      '--at',
      '2000-01-01T00:00:00Z',
      '--to',
      'restored/none.db',
      '--json',
    ]);
    expect(before.code).toBe(2);
    expect(before.stdout).toContain('SHIP_DATASTORE_NO_SNAPSHOT');
    const both = await run([
      'restore',
      'shop-db',
      '--at',
      first.consistentPoint.sourceTime,
      '--snapshot',
      first.snapshotId,
      '--to',
      'restored/none.db',
    ]);
    expect(both.code).toBe(2);
    const bad = await run(['restore', 'shop-db', '--at', 'yesterday', '--to', 'x.db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SHIP_CLI_BAD_FLAG');
  });

  it('restores postgres into a named target given by reference, and verifies the full fingerprint', async () => {
    const to = target.url.replace('://shipshape@', '://shipshape:${env:ORDERS_PG_PW}@');
    const result = await run(['restore', 'items-pg', '--to', to, '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as RestoreJson;
    expect(body.fingerprint.state).toBe('match');
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    const { rows: restored } = await client.query<{ n: string; nulls: string }>(
      'SELECT count(*) AS n, count(*) FILTER (WHERE name IS NULL) AS nulls FROM items',
    );
    await client.end();
    expect(restored[0]).toEqual({ n: '51', nulls: '1' });
    const again = await run(['restore', 'items-pg', '--to', to]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('SHIP_DATASTORE_TARGET_NOT_EMPTY');
  });

  it('exits 1 on a fingerprint mismatch, naming what differs, and records it', async () => {
    const to = join(dir, 'cmd-dst');
    await mkdir(to, { recursive: true });
    await writeFile(join(to, 'marker'), 'v2');
    const result = await run(['restore', 'cmd-store', '--to', to]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toContain('SHIP_DATASTORE_FINGERPRINT_MISMATCH');
    expect(result.stderr).toContain('output (changed)');
    expect(await readFile(join(to, 'data'), 'utf8')).toBe('payload');
    const json = await run(['restore', 'cmd-store', '--to', to, '--json']);
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as RestoreJson;
    expect(body).toMatchObject({
      ok: false,
      fingerprint: { state: 'mismatch', changed: ['output'] },
      error: { code: 'SHIP_DATASTORE_FINGERPRINT_MISMATCH' },
    });
    const shown = await run(['ledger', 'show', String(body.recorded!.seq), '--json']);
    expect(JSON.stringify(JSON.parse(shown.stdout))).toContain('"state":"mismatch"');
  });

  it('reports a fingerprint mismatch naming the table that differs', async () => {
    const workspace = await Workspace.open({ cwd: dir, env });
    try {
      const result = await runDatastoreRestore(
        'shop-db',
        { spec: workspace.spec, baseDir: workspace.dir, env, cwd: dir },
        {
          to: 'restored/tampered.db',
          afterRestore: async (t) => {
            const db = new Database(t.connection);
            db.exec('DELETE FROM orders WHERE id = 1');
            db.close();
            await Promise.resolve();
          },
        },
      );
      expect(result.fingerprint).toMatchObject({
        state: 'mismatch',
        changed: ['orders'],
        missing: [],
        extra: [],
      });
    } finally {
      await workspace.close();
    }
  });
});
