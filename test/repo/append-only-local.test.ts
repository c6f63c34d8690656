import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, openFsBackend } from '../../src/repo/index.js';
import { BIN } from '../helpers/cli.js';

/**
 * The local storage-level setup of docs/repository-format.md "Append-only repositories",
 * tested with real uids: the repository belongs to OWNER; the backup runs as WRITER, a member of
 * GROUP only; a root "hand-over" step after each backup gives the new objects to OWNER. Needs
 * root (to switch uids with setpriv); skipped otherwise.
 */
const OWNER = 40000;
const WRITER = 40001;
const GROUP = 40010;
const canSwitchUsers = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

const KDF = { N: 1024, r: 8, p: 1 };
const password = 'local append-only password';

/** Runs a command as WRITER (uid 40001, group 40010 only). */
function asWriter(command: string[], options: { input?: string; cwd: string }) {
  const run = spawnSync(
    'setpriv',
    [`--reuid=${WRITER}`, `--regid=${GROUP}`, '--clear-groups', ...command],
    {
      cwd: options.cwd,
      input: options.input,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        SHIPSHAPE_REPO_PASSWORD: password,
        CI: '1',
      },
    },
  );
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The root hand-over step: every object WRITER made (not its locks) now belongs to OWNER, read-only. */
function handOver(repo: string): void {
  const run = spawnSync(
    'find',
    [
      repo,
      '-path',
      join(repo, 'locks'),
      '-prune',
      '-o',
      '-type',
      'f',
      '-uid',
      String(WRITER),
      '!',
      '-name',
      '.tmp-*',
      '-exec',
      'chown',
      `${OWNER}:${GROUP}`,
      '{}',
      '+',
      '-exec',
      'chmod',
      '0440',
      '{}',
      '+',
    ],
    { encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(0);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe.skipIf(!canSwitchUsers)(
  'append-only on a local disk (separate owner, sticky directories)',
  () => {
    let base: string;
    let repo: string;

    beforeAll(async () => {
      base = await mkdtemp(join(tmpdir(), 'shipshape-append-local-'));
      await chmod(base, 0o755);
      repo = join(base, 'repo');
      const created = await Repository.init(openFsBackend(repo), password, { kdf: KDF });
      await created.close();
      // The layout of the doc: every directory exists and belongs to OWNER; WRITER (via GROUP) may
      // create in data/xx, index, snapshots and locks (sticky: only a file's owner may remove it),
      // and only read the root, data/ and keys/.
      const prefixes = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
      for (const dir of ['index', 'snapshots', 'locks', ...prefixes.map((p) => `data/${p}`)]) {
        await mkdir(join(repo, dir), { recursive: true });
        await chown(join(repo, dir), OWNER, GROUP);
        await chmod(join(repo, dir), 0o3770);
      }
      for (const dir of ['', 'data', 'keys']) {
        await chown(join(repo, dir), OWNER, GROUP);
        await chmod(join(repo, dir), 0o2750);
      }
      for (const file of await filesUnder(repo)) {
        await chown(file, OWNER, GROUP);
        await chmod(file, 0o440);
      }
    });
    afterAll(async () => {
      await rm(base, { recursive: true, force: true });
    });

    it('WRITER backs up, cannot delete what was handed over, and keeps backing up', async () => {
      const first = asWriter(['node', BIN, 'repo', 'backup', '--repo', repo, '--name', 'db', '-'], {
        cwd: base,
        input: 'the first dump\n'.repeat(1000),
      });
      expect(first.code, first.stderr).toBe(0);
      // The backup removed its own lock: WRITER owns it.
      expect(await readdir(join(repo, 'locks'))).toEqual([]);

      const written = (await filesUnder(repo)).filter(
        (f) => !f.includes('/locks/') && !f.endsWith('/config') && !f.includes('/keys/'),
      );
      const mine = [];
      for (const f of written) if ((await stat(f)).uid === WRITER) mine.push(f);
      expect(mine.length).toBeGreaterThanOrEqual(3); // a pack, an index file, a snapshot
      handOver(repo);

      const targets = [join(repo, 'config'), ...(await filesUnder(join(repo, 'keys'))), ...mine];
      for (const target of targets) {
        const removed = asWriter(['rm', '-f', target], { cwd: base });
        expect(removed.code, target).not.toBe(0);
        // EPERM from the sticky bit for handed-over objects; EACCES where WRITER may not write.
        expect(removed.stderr).toMatch(
          mine.includes(target) ? /Operation not permitted/ : /Permission denied/,
        );
        const replaced = asWriter(['sh', '-c', `echo x > "${target}"`], { cwd: base });
        expect(replaced.code, target).not.toBe(0);
      }
      const renamed = asWriter(['mv', join(repo, 'snapshots'), join(base, 'gone')], { cwd: base });
      expect(renamed.code).not.toBe(0);
      for (const target of targets) await expect(stat(target)).resolves.toBeDefined();

      // Backups go on: WRITER reads the handed-over index and snapshots (group-readable).
      const second = asWriter(['node', BIN, 'repo', 'snapshots', '--repo', repo, '--json'], {
        cwd: base,
      });
      expect(second.code, second.stderr).toBe(0);
      expect((JSON.parse(second.stdout) as { snapshots: unknown[] }).snapshots).toHaveLength(1);
      const third = asWriter(['node', BIN, 'repo', 'backup', '--repo', repo, '--name', 'db', '-'], {
        cwd: base,
        input: 'the second dump\n'.repeat(1000),
      });
      expect(third.code, third.stderr).toBe(0);
    }, 60_000);
  },
);
