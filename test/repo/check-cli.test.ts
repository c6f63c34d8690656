import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ExitCode } from '../../src/core/index.js';
import { Repository, openFsBackend, type CheckReport } from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';

/** `shipshape repo check` and `repo stats` as a user runs them: exit codes, text and --json. */
describe('shipshape repo check / stats (CLI)', () => {
  const password = 'correct horse battery staple';
  const env = { SHIPSHAPE_REPO_PASSWORD: password, SHIPSHAPE_REPO: '' };
  let dir: string;
  let root: string;
  let snapshotId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-check-cli-'));
    root = join(dir, 'repo');
    // Made through the API with cheap scrypt and small chunks; the CLI opens it as any other.
    const repo = await Repository.init(openFsBackend(root), password, {
      kdf: { N: 1024, r: 8, p: 1 },
      chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
      packTargetBytes: 64 * 1024,
      workers: 1,
    });
    let text = '';
    for (let row = 0; text.length < 200_000; row++) text += `order ${row} ${row % 13}\n`;
    // eslint-disable-next-line @typescript-eslint/require-await
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.from(text);
    }
    snapshotId = (await repo.backupStream(source(), { source: { type: 'stream', name: 'orders' } }))
      .snapshotId;
    await repo.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 on a clean repository, and 11 listing the damaged object and snapshot', async () => {
    const clean = await runCli(['repo', 'check', '--repo', root, '--read-data'], { cwd: dir, env });
    expect(clean.code, clean.stderr).toBe(ExitCode.ok);
    expect(clean.stdout).toMatch(/no problems \(read-data;/);

    const stats = await runCli(['repo', 'stats', '--repo', root, '--json'], { cwd: dir, env });
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      snapshots: 1,
      logicalBytes: expect.any(Number) as number,
      dedupRatio: expect.any(Number) as number,
    });
    const table = await runCli(['repo', 'stats', '--repo', root], { cwd: dir, env });
    expect(table.stdout).toMatch(/compression ratio/);

    // Damage the first blob of one pack.
    const sub = (await readdir(join(root, 'data'))).sort()[0] ?? '';
    const pack = (await readdir(join(root, 'data', sub))).sort()[0] ?? '';
    const path = join(root, 'data', sub, pack);
    const bytes = await readFile(path);
    bytes[30] = (bytes[30] ?? 0) ^ 0x01;
    await writeFile(path, bytes);

    const human = await runCli(['repo', 'check', '--repo', root, '--read-data'], {
      cwd: dir,
      env,
    });
    expect(human.code, human.stderr).toBe(ExitCode.repoCorrupt);
    expect(human.stdout).toContain(`data/${pack}`);
    expect(human.stdout).toContain('[blob-damaged]');
    expect(human.stdout).toContain(snapshotId.slice(0, 12));

    const json = await runCli(['repo', 'check', '--repo', root, '--read-data', '--json'], {
      cwd: dir,
      env,
    });
    expect(json.code).toBe(ExitCode.repoCorrupt);
    const report = JSON.parse(json.stdout) as CheckReport;
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.object)).toEqual([`data/${pack}`]);
    expect(report.snapshots.damaged.map((s) => s.id)).toEqual([snapshotId]);

    // Structure-only cannot see a damaged data blob body (documented); it exits 0.
    const structure = await runCli(['repo', 'check', '--repo', root], { cwd: dir, env });
    expect(structure.code).toBe(ExitCode.ok);

    const badFlag = await runCli(['repo', 'check', '--repo', root, '--read-data-subset', '0'], {
      cwd: dir,
      env,
    });
    expect(badFlag.code).toBe(ExitCode.usage);
  });
});
