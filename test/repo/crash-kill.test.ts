import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Repository, openFsBackend } from '../../src/repo/index.js';
import { BIN, runCli } from '../helpers/cli.js';
import { PASSWORD, pieces, pseudoRandom, restoreBytes } from './crash-harness.js';

/**
 * Real `kill -9`: the built CLI backs up a stream and dies by SIGKILL at a failpoint
 * (`SHIPSHAPE_FAILPOINTS='<point>=N:kill'`: no finally block, no exit handler runs), or is
 * killed from outside in the middle of reading its input. Then, as an operator would:
 * `repo unlock` removes the dead process's lock, `repo check --read-data` is clean, the earlier
 * snapshots restore byte for byte, and the same backup succeeds.
 */
const HEAVY = process.env.SHIPSHAPE_HEAVY_TESTS === '1';
const MIB = 1024 * 1024;
/** Fast scrypt for the key file (the CLI reads its cost from the key file). */
const KDF = { N: 1024, r: 8, p: 1 };

const first = pseudoRandom(3 * MIB, 11);
const second = Buffer.concat([first.subarray(0, 2 * MIB), pseudoRandom(2 * MIB, 12)]);
/** The crashed backup: `second` with a new tail, so an uncrashed run shares its first chunks. */
const third = Buffer.concat([second, pseudoRandom(2 * MIB, 13)]);

let root: string;
let base: string;
const ids = new Map<string, string>();
let uncrashedNewChunks = 0;
const env = { SHIPSHAPE_REPO_PASSWORD: PASSWORD };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shipshape-crash-kill-'));
  base = join(root, 'base');
  const repo = await Repository.init(openFsBackend(base), PASSWORD, { kdf: KDF, workers: 1 });
  try {
    for (const [name, data] of [
      ['first', first],
      ['second', second],
    ] as const) {
      const result = await repo.backupStream(pieces(data), { source: { type: 'stream', name } });
      ids.set(name, result.snapshotId);
    }
  } finally {
    await repo.close();
  }
  // The new chunks of an uncrashed backup of `third`, on a copy of the base.
  const copy = await copyBase('uncrashed');
  const uncrashed = await Repository.open(openFsBackend(copy), PASSWORD, { workers: 1 });
  try {
    const result = await uncrashed.backupStream(pieces(third), {
      source: { type: 'stream', name: 'third' },
    });
    uncrashedNewChunks = result.newChunks;
  } finally {
    await uncrashed.close();
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function copyBase(label: string): Promise<string> {
  const dir = join(root, label.replace(/[^a-z0-9]+/gi, '-'));
  await cp(base, dir, { recursive: true });
  return dir;
}

/** What an operator runs after the crash; returns the locks `repo unlock` removed. */
async function recover(
  dir: string,
  data: Buffer,
): Promise<{ removed: number; snapshots: number; newChunks: number }> {
  const unlock = await runCli(['repo', 'unlock', '--repo', dir, '--json'], { cwd: root, env });
  expect(unlock.code, unlock.stderr).toBe(0);
  const unlocked = JSON.parse(unlock.stdout) as {
    removed: { pid?: number; staleReason?: string }[];
    remaining: unknown[];
  };
  for (const lock of unlocked.removed) expect(lock.staleReason).toBe('dead-pid');
  expect(unlocked.remaining).toEqual([]);

  const check = await runCli(['repo', 'check', '--repo', dir, '--read-data', '--json'], {
    cwd: root,
    env,
  });
  expect(check.code, check.stdout + check.stderr).toBe(0);
  expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, problems: [] });

  const repo = await Repository.open(openFsBackend(dir), PASSWORD, { workers: 1 });
  try {
    for (const [name, content] of [
      ['first', first],
      ['second', second],
    ] as const) {
      expect((await restoreBytes(repo, ids.get(name)!)).equals(content), name).toBe(true);
    }
    const snapshots = (await repo.snapshots()).length;
    const again = await repo.backupStream(pieces(data), {
      source: { type: 'stream', name: 'third' },
    });
    expect(again.newChunks).toBeLessThan(again.chunks);
    expect((await restoreBytes(repo, again.snapshotId)).equals(data)).toBe(true);
    return { removed: unlocked.removed.length, snapshots, newChunks: again.newChunks };
  } finally {
    await repo.close();
  }
}

describe('crash safety under a real kill -9 (built CLI)', () => {
  const specs = [
    // Spread over the run: the lock being taken, mid-pack, the pack done, the index written,
    // the manifest written (the snapshot is complete but its lock is left behind).
    'lock.written=1:kill',
    'pack.written=1:kill',
    'snapshot.written=1:kill',
    ...(HEAVY
      ? [
          'backend.put.linked=2:kill',
          'index.written=1:kill',
          'lock.removed=1:kill',
          '*=4:kill',
          '*=13:kill',
          '*=19:kill',
          '*=25:kill',
        ]
      : []),
  ];
  for (const spec of specs) {
    it(`recovers after SIGKILL at ${spec}`, async () => {
      const dir = await copyBase(spec);
      const run = await runCli(
        ['repo', 'backup', '--repo', dir, '--name', 'third', '--json', '-'],
        {
          cwd: root,
          env: { ...env, SHIPSHAPE_FAILPOINTS: spec },
          input: third,
        },
      );
      // runCli reports a death by signal as code -1; a completed backup would print its result.
      expect({ code: run.code, stdout: run.stdout }).toEqual({ code: -1, stdout: '' });
      const { removed, snapshots, newChunks } = await recover(dir, third);
      // Once a pack of the killed backup was durable, the next backup reuses it.
      if (!spec.startsWith('*') && !spec.startsWith('lock.written')) {
        expect(newChunks).toBeLessThan(uncrashedNewChunks);
      }
      if (spec.startsWith('*')) {
        expect(removed).toBeLessThanOrEqual(1);
        expect([2, 3]).toContain(snapshots);
      } else {
        // A kill while the lock exists leaves exactly that lock, judged dead by its pid; the
        // snapshot exists once its manifest was written.
        const late = spec.startsWith('snapshot.') || spec.startsWith('lock.removed');
        expect({ removed, snapshots }).toEqual({
          removed: spec.startsWith('lock.removed') ? 0 : 1,
          snapshots: late ? 3 : 2,
        });
      }
    });
  }

  it(`recovers after SIGKILL from outside while the backup reads its input${HEAVY ? ' (after a pack is durable)' : ''}`, async () => {
    const dir = await copyBase('mid-stream');
    // Heavy: enough for a full 32 MiB pack even with the chunker holding back up to 8 MiB, so
    // the kill lands after a pack became durable.
    const data = HEAVY ? pseudoRandom(64 * MIB, 21) : third;
    const child = spawn(process.execPath, [BIN, 'repo', 'backup', '--repo', dir, '--json', '-'], {
      cwd: root,
      env: { ...process.env, CI: '1', ...env },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const closed = once(child, 'close');
    child.stdin.on('error', () => undefined);
    // The input is handed over but stdin stays open: the backup is mid-stream, waiting for more.
    await new Promise<void>((resolve, reject) => {
      child.stdin.write(data, (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    const ready = async () =>
      HEAVY ? (await newPacks(dir)) > 0 : (await readdir(join(dir, 'locks'))).length > 0;
    while (!(await ready())) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `the backup ended (${child.exitCode ?? child.signalCode}) before it could be killed`,
        );
      }
      await delay(20);
    }
    child.kill('SIGKILL');
    const [code, signal] = (await closed) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    const { removed, snapshots } = await recover(dir, data);
    expect({ removed, snapshots }).toEqual({ removed: 1, snapshots: 2 });
  });
});

let basePacks: Set<string> | undefined;

/** Packs in `dir` that the base repository does not have. */
async function newPacks(dir: string): Promise<number> {
  const list = async (at: string) =>
    (await readdir(join(at, 'data'), { recursive: true })).filter((path) =>
      /^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(path),
    );
  basePacks ??= new Set(await list(base));
  return (await list(dir)).filter((path) => !basePacks!.has(path)).length;
}
