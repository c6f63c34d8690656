import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ExitCode } from '../../src/core/index.js';
import {
  Repository,
  openFsBackend,
  type ForgetResult,
  type PruneResult,
  type RepairIndexResult,
} from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';

/** `repo forget`, `repo prune` and `repo repair index` as a user runs them: exit codes, text, --json. */
describe('shipshape repo forget / prune / repair index (CLI)', () => {
  const password = 'correct horse battery staple';
  const env = { SHIPSHAPE_REPO_PASSWORD: password, SHIPSHAPE_REPO: '' };
  let dir: string;
  let root: string;
  const snapshots: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-prune-cli-'));
    root = join(dir, 'repo');
    const repo = await Repository.init(openFsBackend(root), password, {
      kdf: { N: 1024, r: 8, p: 1 },
      chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
      packTargetBytes: 64 * 1024,
      workers: 1,
    });
    for (let i = 0; i < 3; i++) {
      const data = randomBytes(100 * 1024);
      // eslint-disable-next-line @typescript-eslint/require-await
      async function* source(): AsyncGenerator<Buffer> {
        yield data;
      }
      snapshots.push(
        (await repo.backupStream(source(), { source: { type: 'stream', name: 'orders' } }))
          .snapshotId,
      );
    }
    await repo.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(['repo', ...args, '--repo', root], { cwd: dir, env });

  it('forget --dry-run prints the plan table; --json gives the full plan; nothing is removed', async () => {
    const table = await cli('forget', '--keep-last', '1', '--dry-run');
    expect(table.code, table.stderr).toBe(ExitCode.ok);
    expect(table.stdout).toMatch(/SNAPSHOT\s+TIME\s+SOURCE\s+ACTION\s+REASONS/);
    expect(table.stdout).toContain('KEEP');
    expect(table.stdout).toContain('last 1');
    expect(table.stdout).toMatch(/would remove 2 snapshots, keep 1/);

    const json = await cli('forget', '--keep-last', '1', '--dry-run', '--json');
    const plan = JSON.parse(json.stdout) as ForgetResult;
    expect(plan.dryRun).toBe(true);
    expect(plan.plan.filter((d) => d.keep).map((d) => d.id)).toEqual([snapshots[2]]);
    expect(plan.removed).toEqual([]);
    const listed = await cli('snapshots', '--json');
    expect((JSON.parse(listed.stdout) as { snapshots: unknown[] }).snapshots).toHaveLength(3);
  });

  it('refuses forget without ids or rules, and a bad --group-by, with exit 2', async () => {
    const empty = await cli('forget');
    expect(empty.code).toBe(ExitCode.usage);
    expect(empty.stderr).toContain('SHIP_REPO_EMPTY_POLICY');
    const group = await cli('forget', '--keep-last', '1', '--group-by', 'colour');
    expect(group.code).toBe(ExitCode.usage);
    expect(group.stderr).toMatch(/--group-by colour is not one of source, host,source, none/);
    const grace = await cli('prune', '--grace', 'soon');
    expect(grace.code).toBe(ExitCode.usage);
  });

  it('forget by id with --prune marks, a second prune (--grace 0) deletes; repair index rebuilds', async () => {
    const within = await cli(
      'forget',
      '--keep-within',
      '1h',
      '--time-zone',
      'Europe/Berlin',
      '--dry-run',
    );
    expect(within.code, within.stderr).toBe(ExitCode.ok);
    expect(within.stdout).toMatch(/would remove 0 snapshots, keep 3/);
    expect(within.stdout).toContain('within 1h');

    const forget = await cli(
      'forget',
      (snapshots[0] ?? '').slice(0, 10),
      '--prune',
      '--grace',
      '0',
      '--json',
    );
    expect(forget.code, forget.stderr).toBe(ExitCode.ok);
    const forgotten = JSON.parse(forget.stdout) as ForgetResult & { prune: PruneResult };
    expect(forgotten.removed).toEqual([snapshots[0]]);
    expect(forgotten.prune.marked.length).toBeGreaterThan(0);
    expect(forgotten.prune.deleted).toEqual([]);

    const dry = await cli('prune', '--dry-run', '--grace', '0');
    expect(dry.code, dry.stderr).toBe(ExitCode.ok);
    expect(dry.stdout).toMatch(/^dry run: 2 snapshots/m);
    expect(dry.stdout).toMatch(/would delete [1-9]\d* pack\(s\)/);
    expect(dry.stdout).toMatch(/would free [1-9]/);

    const deleting = await cli('prune', '--grace', '0', '--json');
    expect(deleting.code, deleting.stderr).toBe(ExitCode.ok);
    const result = JSON.parse(deleting.stdout) as PruneResult;
    expect(result.deleted.length).toBeGreaterThan(0);
    expect(result.bytesFreed).toBeGreaterThan(100 * 1024);
    expect(result.bytesMarked).toBe(0);

    const repair = await cli('repair', 'index', '--json');
    expect(repair.code, repair.stderr).toBe(ExitCode.ok);
    const repaired = JSON.parse(repair.stdout) as RepairIndexResult;
    expect(repaired.unreadablePacks).toEqual([]);
    const packs = (await readdir(join(root, 'data'), { recursive: true })).filter((p) =>
      /[0-9a-f]{64}$/.test(p),
    );
    expect(repaired.packs).toBe(packs.length);
    const text = await cli('repair', 'index');
    expect(text.stdout).toMatch(/✓ indexed \d+ pack\(s\)/);

    const check = await cli('check', '--read-data');
    expect(check.code, check.stdout).toBe(ExitCode.ok);
  });

  it('refuses prune with --append-only (exit 19), naming the repository', async () => {
    const refused = await cli('prune', '--append-only');
    expect(refused.code).toBe(ExitCode.forbidden);
    expect(refused.stderr).toContain('SHIP_REPO_APPEND_ONLY');
    expect(refused.stderr).toContain(root);
  });
});
