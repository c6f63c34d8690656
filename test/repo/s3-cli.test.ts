import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../helpers/s3rver.js';

/** stdout must be exactly one JSON document: nothing else (no SDK warning) may reach it. */
function json(run: CliRun): unknown {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout.trim().startsWith('{')).toBe(true);
  return JSON.parse(run.stdout);
}

/** `shipshape repo …` against an S3-compatible server, by URL and by spec name. */
describe('repo commands on S3 (s3rver)', () => {
  let s3: RunningS3rver;
  let root: string;
  const password = 'an s3 repository password';
  const stream = randomBytes(700 * 1024);
  let byUrl: NodeJS.ProcessEnv;

  beforeAll(async () => {
    s3 = await startS3rver(['backups']);
    root = await mkdtemp(join(tmpdir(), 'shipshape-s3-cli-'));
    byUrl = {
      SHIPSHAPE_REPO_PASSWORD: password,
      SHIPSHAPE_REPO: '',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      // The SDK's own switch must not be what keeps stdout clean: shipshape sets it itself.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
    };
  }, 60_000);
  afterAll(async () => {
    await s3.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('init, backup (stdin and a tree), snapshots, restore, check --read-data, stats by s3:// URL', async () => {
    const repo = 's3://backups/by-url';
    const cli = (args: string[], input?: Buffer) =>
      runCli(['repo', ...args, '--repo', repo], {
        cwd: root,
        env: byUrl,
        ...(input === undefined ? {} : { input }),
      });

    const initRun = await cli(['init', '--json']);
    const init = json(initRun) as { ok: boolean; location: string };
    expect(init).toMatchObject({ ok: true, location: repo });
    // No Node-version notice from the SDK anywhere, not even on stderr.
    expect(initRun.stderr).not.toContain('NodeVersionSupportWarning');

    const backup = json(await cli(['backup', '--name', 'orders', '--json', '-'], stream)) as {
      snapshotId: string;
      bytesRead: number;
    };
    expect(backup.bytesRead).toBe(stream.length);

    const tree = join(root, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'a.txt'), 'alpha\n');
    await writeFile(join(tree, 'sub', 'b.bin'), randomBytes(50_000));
    const treeBackup = json(await cli(['backup', tree, '--json'])) as { snapshotId: string };

    const listed = json(await cli(['snapshots', '--json'])) as {
      snapshots: { id: string; source: { name: string } }[];
    };
    expect(listed.snapshots.map((s) => s.id).sort()).toEqual(
      [backup.snapshotId, treeBackup.snapshotId].sort(),
    );

    const restored = await cli(['restore', backup.snapshotId.slice(0, 12), '--stdout']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdoutBytes.equals(stream)).toBe(true);

    const target = join(root, 'restored-tree');
    json(await cli(['restore', treeBackup.snapshotId, '--target', target, '--json']));
    expect(await readFile(join(target, 'tree', 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(await readFile(join(target, 'tree', 'sub', 'b.bin'))).toHaveLength(50_000);

    const check = json(await cli(['check', '--read-data', '--json'])) as {
      ok: boolean;
      mode: string;
      packs: { read: number };
    };
    expect(check).toMatchObject({ ok: true, mode: 'read-data' });
    expect(check.packs.read).toBeGreaterThan(0);

    const stats = json(await cli(['stats', '--json'])) as {
      snapshots: number;
      logicalBytes: number;
    };
    expect(stats.snapshots).toBe(2);
    expect(stats.logicalBytes).toBeGreaterThanOrEqual(stream.length);
  }, 120_000);

  // object_lock: every upload carries Content-MD5; s3rver accepts it but checks neither the
  // digest nor any retention (both are unit-tested against a fake client in
  // src/repo/backend/s3-object-lock.test.ts).
  it('opens a spec repository with url: s3://… and its s3 options; credentials only by reference', async () => {
    const ws = join(root, 'ws');
    await mkdir(ws, { recursive: true });
    await writeFile(
      join(ws, 'shipshape.yaml'),
      `version: 1
service:
  name: shop
repositories:
  offsite:
    url: s3://backups/from-spec
    key: \${env:OFFSITE_REPO_KEY}
    s3:
      endpoint: ${s3.endpoint}
      region: us-east-1
      force_path_style: true
      access_key_id: \${env:OFFSITE_KEY_ID}
      secret_access_key: \${file:s3-secret}
      object_lock: true
`,
    );
    await writeFile(join(ws, 's3-secret'), `${S3RVER_CREDENTIALS.secretAccessKey}\n`);
    const env = {
      SHIPSHAPE_REPO_PASSWORD: '',
      SHIPSHAPE_REPO: '',
      OFFSITE_REPO_KEY: password,
      OFFSITE_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      // Nothing from the AWS chain: the spec's references are what authenticate.
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_ENDPOINT_URL_S3: '',
      AWS_PROFILE: '',
    };
    const cli = (args: string[], input?: Buffer) =>
      runCli(['repo', ...args, '--repo', 'offsite'], {
        cwd: ws,
        env,
        ...(input === undefined ? {} : { input }),
      });
    expect(json(await cli(['init', '--json']))).toMatchObject({
      ok: true,
      location: 's3://backups/from-spec',
    });
    const backup = json(await cli(['backup', '--json', '-'], Buffer.from('from the spec'))) as {
      snapshotId: string;
    };
    const restored = await cli(['restore', 'latest', '--stdout']);
    expect(restored.stdout).toBe('from the spec');
    expect(restored.stderr).toContain(backup.snapshotId.slice(0, 12));

    // Credentials s3rver does not know: an S3 error naming the bucket; no secret is echoed.
    await writeFile(join(ws, 's3-secret'), 'not-the-secret-value\n');
    const denied = await runCli(['repo', 'snapshots', '--repo', 'offsite', '--json'], {
      cwd: ws,
      env: { ...env, OFFSITE_KEY_ID: 'AKIAUNKNOWNKEYID' },
    });
    expect(denied.code).toBe(3);
    const error = (JSON.parse(denied.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('SHIP_REPO_IO');
    expect(error.message).toContain('s3://backups/from-spec');
    expect(denied.stdout + denied.stderr).not.toContain('not-the-secret-value');
  }, 120_000);

  it('refuses deletes when opened --append-only, and keeps working for backups', async () => {
    const repo = 's3://backups/append-only';
    const cli = (args: string[], input?: Buffer) =>
      runCli(['repo', ...args, '--repo', repo], {
        cwd: root,
        env: byUrl,
        ...(input === undefined ? {} : { input }),
      });
    const { keyId } = json(await cli(['init', '--json'])) as { keyId: string };
    json(await cli(['backup', '--append-only', '--json', '-'], Buffer.from('appended')));
    // Refused as a delete before anything else (it would also be the last key).
    const remove = await cli(['key', 'remove', keyId, '--append-only', '--json']);
    expect(remove.code).toBe(19);
    expect(JSON.parse(remove.stdout)).toMatchObject({
      error: { code: 'SHIP_REPO_APPEND_ONLY' },
    });
    const unlock = await cli(['unlock', '--force', '--append-only', '--json']);
    expect(unlock.code).toBe(19);
    // The lock of the backup above was released (its holder may delete its own lock).
    const locks = json(await cli(['unlock', '--append-only', '--json'])) as {
      removed: unknown[];
      remaining: unknown[];
    };
    expect(locks).toEqual({ ok: true, removed: [], remaining: [] });
  }, 120_000);
});
