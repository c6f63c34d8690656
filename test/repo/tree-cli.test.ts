import { mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Repository, openFsBackend } from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';

/** `shipshape repo backup PATH…` and `repo restore --target` as a user types them. */
describe('shipshape repo backup PATH / restore --target (CLI)', () => {
  let root: string;
  const env = { SHIPSHAPE_REPO_PASSWORD: 'correct horse battery staple', SHIPSHAPE_REPO: '' };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-tree-cli-'));
    await mkdir(join(root, 'site', 'assets'), { recursive: true });
    await writeFile(join(root, 'site', 'index.html'), '<h1>hi</h1>');
    await writeFile(join(root, 'site', 'assets', 'app.js'), 'console.log(1)\n'.repeat(5000));
    await symlink('index.html', join(root, 'site', 'home.html'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('backs up a directory, restores it into a new target, and refuses a busy one', async () => {
    // Created through the API with a cheap scrypt, so each command below opens it quickly.
    const created = await Repository.init(
      openFsBackend(join(root, 'repo')),
      env.SHIPSHAPE_REPO_PASSWORD,
      { kdf: { N: 1024, r: 8, p: 1 } },
    );
    await created.close();

    const backup = await runCli(['repo', 'backup', '--repo', 'repo', '--json', 'site'], {
      cwd: root,
      env,
    });
    expect(backup.code, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout) as { ok: boolean; snapshotId: string };
    expect(result.ok).toBe(true);

    const list = await runCli(['repo', 'snapshots', '--repo', 'repo', '--json'], {
      cwd: root,
      env,
    });
    const [snapshot] = (
      JSON.parse(list.stdout) as {
        snapshots: { id: string; source: { type: string; name: string } }[];
      }
    ).snapshots;
    expect(snapshot?.source).toMatchObject({ type: 'paths', name: 'site' });

    const restore = await runCli(
      ['repo', 'restore', 'latest', '--repo', 'repo', '--target', 'out', '--json'],
      { cwd: root, env },
    );
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({
      ok: true,
      snapshotId: result.snapshotId,
      target: join(root, 'out'),
      files: 2,
      dirs: 2,
      symlinks: 1,
    });
    expect(await readFile(join(root, 'out', 'site', 'assets', 'app.js'), 'utf8')).toBe(
      'console.log(1)\n'.repeat(5000),
    );
    expect(await readlink(join(root, 'out', 'site', 'home.html'))).toBe('index.html');

    const busy = await runCli(
      ['repo', 'restore', 'latest', '--repo', 'repo', '--target', 'out', '--json'],
      { cwd: root, env },
    );
    expect(busy.code).toBe(2);
    expect(JSON.parse(busy.stdout)).toMatchObject({
      ok: false,
      error: { code: 'SHIP_REPO_TARGET_NOT_EMPTY' },
    });
    const forced = await runCli(
      ['repo', 'restore', 'latest', '--repo', 'repo', '--target', 'out', '--force'],
      { cwd: root, env },
    );
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('2 files');
  });
});
