import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/** `shipshape repo …` as a user types it: init, backup from stdin, list, restore, keys. */
describe('shipshape repo (CLI)', () => {
  let root: string;
  let repo: string;
  const env = { SHIPSHAPE_REPO_PASSWORD: 'correct horse battery staple', SHIPSHAPE_REPO: '' };
  // Random data with a repeated block: compressible in parts, and deduplicated across runs.
  const block = randomBytes(3 * 1024 * 1024);
  const data = Buffer.concat([block, Buffer.alloc(2 * 1024 * 1024, 7), block]);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-repo-cli-'));
    repo = join(root, 'repo');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('initialises, backs up stdin twice with dedup, lists and restores byte for byte', async () => {
    const init = await runCli(['repo', 'init', '--repo', repo, '--json'], { cwd: root, env });
    expect(init.code, init.stderr).toBe(0);

    const first = await runCli(
      ['repo', 'backup', '--repo', repo, '--name', 'orders', '--tag', 'nightly', '--json', '-'],
      {
        cwd: root,
        env,
        input: data,
      },
    );
    expect(first.code, first.stderr).toBe(0);
    const firstResult = JSON.parse(first.stdout) as {
      snapshotId: string;
      bytesRead: number;
      newChunks: number;
    };
    expect(firstResult.bytesRead).toBe(data.length);
    // With --json, progress goes to stderr as JSON events, ending with the final figures.
    const events = first.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; op: string; bytes: number });
    expect(events.at(-1)).toMatchObject({ event: 'progress', op: 'backup', bytes: data.length });

    const second = await runCli(
      ['repo', 'backup', '--repo', repo, '--name', 'orders', '--json', '-'],
      {
        cwd: root,
        env,
        input: data,
      },
    );
    expect((JSON.parse(second.stdout) as { newChunks: number; bytesNew: number }).bytesNew).toBe(0);

    const list = await runCli(['repo', 'snapshots', '--repo', repo, '--tag', 'nightly', '--json'], {
      cwd: root,
      env,
    });
    const snapshots = (JSON.parse(list.stdout) as { snapshots: { id: string; tags: string[] }[] })
      .snapshots;
    expect(snapshots.map((s) => s.id)).toEqual([firstResult.snapshotId]);

    const restored = await runCli(
      ['repo', 'restore', firstResult.snapshotId.slice(0, 10), '--repo', repo, '--stdout'],
      {
        cwd: root,
        env,
      },
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdoutBytes.equals(data)).toBe(true);

    const latest = await runCli(['repo', 'restore', 'latest', '--repo', repo, '--stdout'], {
      cwd: root,
      env,
    });
    expect(latest.stdoutBytes.equals(data)).toBe(true);
  });

  it('refuses a wrong password (exit 12), a missing one (exit 2) and a directory that is no repository', async () => {
    const wrong = await runCli(['repo', 'snapshots', '--repo', repo, '--json'], {
      cwd: root,
      env: { ...env, SHIPSHAPE_REPO_PASSWORD: 'not the password' },
    });
    expect(wrong.code).toBe(12);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ error: { code: 'SHIP_REPO_WRONG_KEY' } });

    const none = await runCli(['repo', 'snapshots', '--repo', repo], {
      cwd: root,
      env: { ...env, SHIPSHAPE_REPO_PASSWORD: '' },
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('SHIP_REPO_NO_PASSWORD');

    const notRepo = await runCli(['repo', 'snapshots', '--repo', root], { cwd: root, env });
    expect(notRepo.code).toBe(2);
    expect(notRepo.stderr).toContain('SHIP_REPO_NOT_A_REPOSITORY');
  });

  it('adds a key, opens with it, and never removes the last key', async () => {
    const newPassword = join(root, 'new-password');
    await writeFile(newPassword, 'a second long password\n');
    const add = await runCli(
      ['repo', 'key', 'add', '--repo', repo, '--new-password-file', newPassword, '--json'],
      {
        cwd: root,
        env,
      },
    );
    expect(add.code, add.stderr).toBe(0);
    const addedId = (JSON.parse(add.stdout) as { id: string }).id;

    const withNew = await runCli(
      ['repo', 'key', 'list', '--repo', repo, '--password-file', newPassword, '--json'],
      {
        cwd: root,
        env: { ...env, SHIPSHAPE_REPO_PASSWORD: '' },
      },
    );
    const keys = (JSON.parse(withNew.stdout) as { keys: { id: string; current: boolean }[] }).keys;
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.current)?.id).toBe(addedId);

    const original = keys.find((k) => !k.current)!.id;
    const removed = await runCli(
      ['repo', 'key', 'remove', original, '--repo', repo, '--password-file', newPassword],
      {
        cwd: root,
        env,
      },
    );
    expect(removed.code, removed.stderr).toBe(0);
    const last = await runCli(
      ['repo', 'key', 'remove', addedId, '--repo', repo, '--password-file', newPassword, '--json'],
      {
        cwd: root,
        env,
      },
    );
    expect(last.code).toBe(2);
    expect(JSON.parse(last.stdout)).toMatchObject({ error: { code: 'SHIP_REPO_LAST_KEY' } });
  });
});
