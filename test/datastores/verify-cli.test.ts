import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';

interface VerifyJson {
  ok: boolean;
  results: {
    datastore: string;
    ok: boolean;
    exitCode: number;
    snapshots: number;
    read: number;
    damaged: { id: string }[];
    unreadable: { id: string; code: string }[];
    sandbox: { snapshotId: string; fingerprint?: { state: string } } | null;
    recorded?: { seq: number };
  }[];
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('shipshape backup verify', () => {
  let root: string;
  let dir: string;
  const env = { SHIPSHAPE_DATABASE_URL: '' };
  const run = (args: string[]) => runCli(args, { cwd: dir, env });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-verify-cli-'));
    dir = join(root, 'ws');
    expect((await runCli(['demo', '--dir', dir], { cwd: root, env })).code).toBe(0);
    const specFile = join(dir, 'shipshape.yaml');
    const spec = (await readFile(specFile, 'utf8'))
      .replace(
        'repositories:\n',
        'repositories:\n  verify-repo:\n    url: .shipshape/verify-backups\n    key: ${file:.shipshape/keys/repository.key}\n',
      )
      .replace(
        'datastores:\n',
        'datastores:\n' +
          '  good-db:\n    kind: sqlite\n    connection:\n      production: data/good.db\n    repository: verify-repo\n    fingerprint: full\n' +
          '  empty-db:\n    kind: sqlite\n    connection:\n      production: data/empty.db\n    repository: verify-repo\n',
      );
    await writeFile(specFile, spec);
    expect((await run(['repo', 'init', '--repo', 'verify-repo'])).code).toBe(0);
    await mkdir(join(dir, 'data'), { recursive: true });
    const db = new Database(join(dir, 'data', 'good.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)');
    const insert = db.prepare('INSERT INTO t (payload) VALUES (?)');
    for (let i = 0; i < 20; i++) insert.run(randomBytes(2000));
    db.close();
    for (let i = 0; i < 2; i++) {
      const backup = await run(['backup', 'run', 'good-db', '--json']);
      expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads every snapshot back, restores the newest into a sandbox and records the outcome', async () => {
    const result = await run(['backup', 'verify', 'good-db', '--restore', '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as VerifyJson;
    expect(body.ok).toBe(true);
    expect(body.results[0]).toMatchObject({
      datastore: 'good-db',
      ok: true,
      snapshots: 2,
      read: 2,
      damaged: [],
      unreadable: [],
      sandbox: { fingerprint: { state: 'match' } },
    });
    const shown = await run(['ledger', 'show', String(body.results[0]!.recorded!.seq), '--json']);
    const text = JSON.stringify(JSON.parse(shown.stdout));
    expect(text).toContain('"type":"datastore-verified"');
    expect(text).toContain('"ok":true');
  });

  it('a store without snapshots fails verification (exit 1)', async () => {
    const result = await run(['backup', 'verify', 'empty-db']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('empty-db has no snapshots to verify');
  });

  it('a damaged pack makes the snapshots using it fail (exit 11)', async () => {
    for (const pack of await files(join(dir, '.shipshape/verify-backups/data'))) {
      const handle = await open(pack, 'r+');
      try {
        const { size } = await handle.stat();
        await handle.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, Math.floor(size / 2));
      } finally {
        await handle.close();
      }
    }
    const result = await run(['backup', 'verify', 'good-db', '--json']);
    expect(result.code, result.stderr).toBe(11);
    const body = JSON.parse(result.stdout) as VerifyJson;
    expect(body.ok).toBe(false);
    const verified = body.results[0]!;
    expect(verified.read).toBe(0);
    expect(verified.unreadable).toHaveLength(2);
    expect(verified.unreadable[0]!.code).toBe('SHIP_REPO_CORRUPT');
  });

  it('has --help with examples and --json', async () => {
    const help = await run(['backup', 'verify', '--help']);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('--restore');
  });
});
