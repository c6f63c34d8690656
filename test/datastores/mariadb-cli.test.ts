/** `backup run` and `restore` end to end for a `kind: mariadb` data store, through the built CLI. */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseMariadbConnection } from '../../src/datastores/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { mariadbUrl } from '../helpers/services.js';

const CANARY = `canary${randomBytes(10).toString('hex')}`;
const SUFFIX = `${process.pid}_${randomBytes(3).toString('hex')}`;
const SOURCE_DB = `t_maria_cli_src_${SUFFIX}`;
const TARGET_DB = `t_maria_cli_dst_${SUFFIX}`;
const USER = `cli_${SUFFIX}`;

function admin(sql: string): string {
  const conn = parseMariadbConnection(mariadbUrl());
  const result = spawnSync(
    'mariadb',
    [
      '--no-defaults',
      `--host=${conn.host}`,
      `--port=${conn.port}`,
      `--user=${conn.user ?? ''}`,
      '--default-character-set=utf8mb4',
      '--batch',
      '--skip-column-names',
    ],
    { input: sql, encoding: 'utf8', env: { ...process.env, MYSQL_PWD: conn.password ?? '' } },
  );
  if (result.status !== 0) throw new Error(`mariadb failed: ${result.stderr}`);
  return result.stdout;
}

function url(database: string): string {
  const conn = parseMariadbConnection(mariadbUrl());
  return `mysql://${USER}:\${env:SHOP_MARIA_PW}@${conn.host}:${conn.port}/${database}`;
}

describe('shipshape backup run / restore with a mariadb data store', () => {
  let root: string;
  let dir: string;
  const env = { SHOP_MARIA_PW: CANARY };
  const runs: CliRun[] = [];
  const run = async (args: string[]) => {
    const result = await runCli(args, { cwd: dir, env });
    runs.push(result);
    return result;
  };

  beforeAll(async () => {
    admin(
      `CREATE DATABASE ${SOURCE_DB}; CREATE DATABASE ${TARGET_DB};
       CREATE USER '${USER}'@'127.0.0.1' IDENTIFIED BY '${CANARY}';
       GRANT ALL ON ${SOURCE_DB}.* TO '${USER}'@'127.0.0.1';
       GRANT ALL ON ${TARGET_DB}.* TO '${USER}'@'127.0.0.1';
       CREATE TABLE ${SOURCE_DB}.items (id INT PRIMARY KEY, name VARCHAR(20), b BLOB) ENGINE=InnoDB;
       INSERT INTO ${SOURCE_DB}.items VALUES (1, 'ünï', 0x00ff), (2, NULL, NULL), (3, 'x', '');`,
    );
    root = await mkdtemp(join(tmpdir(), 'shipshape-mariadb-cli-'));
    dir = join(root, 'ws');
    expect((await runCli(['demo', '--dir', dir], { cwd: root, env })).code).toBe(0);
    const specFile = join(dir, 'shipshape.yaml');
    const spec = (await readFile(specFile, 'utf8')).replace(
      'datastores:\n',
      'datastores:\n' +
        `  shop-maria:\n    kind: mariadb\n    connection:\n      production: ${url(SOURCE_DB)}\n    repository: local\n    fingerprint: full\n`,
    );
    await writeFile(specFile, spec);
  });

  afterAll(async () => {
    admin(
      `DROP DATABASE IF EXISTS ${SOURCE_DB}; DROP DATABASE IF EXISTS ${TARGET_DB};
       DROP USER IF EXISTS '${USER}'@'127.0.0.1';`,
    );
    await rm(root, { recursive: true, force: true });
  });

  it('backs up, restores into another database with a matching full fingerprint, refuses to overwrite', async () => {
    const backup = await run(['backup', 'run', 'shop-maria', '--json']);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const body = JSON.parse(backup.stdout) as {
      ok: boolean;
      results: {
        kind: string;
        fingerprint: { mode: string } | null;
        consistentPoint: { kind: string };
        toolVersions: Record<string, string>;
      }[];
    };
    expect(body.ok).toBe(true);
    expect(body.results[0]).toMatchObject({
      kind: 'mariadb',
      fingerprint: { mode: 'full' },
      consistentPoint: { kind: 'mariadb-snapshot-time' },
    });
    expect(Object.keys(body.results[0]!.toolVersions)).toContain('mariadb-dump');

    const restored = await run(['restore', 'shop-maria', '--to', url(TARGET_DB), '--json']);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    const restoredBody = JSON.parse(restored.stdout) as { fingerprint: { state: string } };
    expect(restoredBody.fingerprint.state).toBe('match');
    expect(admin(`SELECT COUNT(*), HEX(MAX(b)) FROM ${TARGET_DB}.items`).trim()).toBe('3\t00FF');

    const again = await run(['restore', 'shop-maria', '--to', url(TARGET_DB)]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('SHIP_DATASTORE_TARGET_NOT_EMPTY');
    for (const r of runs) {
      expect(r.stdout).not.toContain(CANARY);
      expect(r.stderr).not.toContain(CANARY);
    }
  });
});
