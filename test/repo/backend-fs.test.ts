import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isShipError } from '../../src/core/index.js';
import { FS_CAPABILITIES, FS_TEMP_PREFIX, FsBackend, openFsBackend } from '../../src/repo/index.js';
import { describeBackendConformance } from './backend-conformance.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-backend-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

describeBackendConformance({
  name: 'fs',
  capabilities: FS_CAPABILITIES,
  async fresh() {
    const { dir, cleanup } = await tempDir();
    // The repository folder does not exist yet: the backend creates folders on demand.
    return { backend: openFsBackend(join(dir, 'repo')), cleanup };
  },
  async interruptedPut(backend, type, name) {
    if (!(backend instanceof FsBackend)) throw new Error('expected the fs backend');
    const folder = dirname(backend.pathOf(type, name));
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `${FS_TEMP_PREFIX}crashed`), 'half a pack');
  },
});

async function listAll(
  backend: FsBackend,
  type: Parameters<FsBackend['list']>[0],
): Promise<string[]> {
  const names: string[] = [];
  for await (const info of backend.list(type)) names.push(info.name);
  return names;
}

describe('fs backend', () => {
  it('lays objects out as documented, folders 0700 and files 0600', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const root = join(dir, 'repo');
      const backend = openFsBackend(root);
      await backend.put('config', 'config', Buffer.from('c'));
      await backend.put('keys', 'k1', Buffer.from('k'));
      await backend.put('data', '3fa9c2', Buffer.from('d'));
      await backend.put('index', 'i1', Buffer.from('i'));
      await backend.put('snapshots', 's1', Buffer.from('s'));
      await backend.put('locks', 'l1', Buffer.from('l'), { ifAbsent: true });
      const files = ['config', 'keys/k1', 'data/3f/3fa9c2', 'index/i1', 'snapshots/s1', 'locks/l1'];
      for (const file of files) {
        expect((await stat(join(root, file))).mode & 0o777, file).toBe(0o600);
      }
      for (const folder of ['', 'keys', 'data', 'data/3f', 'index', 'snapshots', 'locks']) {
        expect((await stat(join(root, folder))).mode & 0o777, folder || 'root').toBe(0o700);
      }
      // No temp file survives a completed put (plain or create-only).
      expect((await readdir(join(root, 'locks'))).sort()).toEqual(['l1']);
      expect(await readdir(root)).not.toContain(expect.stringMatching(/^\.tmp-/));
    } finally {
      await cleanup();
    }
  });

  it('keeps an object invisible until its temp file is renamed into place', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const seen: unknown[] = [];
      const backend: FsBackend = openFsBackend(dir, {
        failpoint: async (point, tempPath) => {
          seen.push(point, (await stat(tempPath)).size);
          seen.push(await backend.stat('snapshots', 's1'), await listAll(backend, 'snapshots'));
        },
      });
      await backend.put('snapshots', 's1', Buffer.from('12345'));
      expect(seen).toEqual(['after-temp-synced', 5, undefined, []]);
      expect(await listAll(backend, 'snapshots')).toEqual(['s1']);
    } finally {
      await cleanup();
    }
  });

  it('leaves only an ignored temp file when the process dies before the rename', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // A real crash: the child kills itself with SIGKILL at the failpoint, so no cleanup runs.
      const script = `
        const { openFsBackend } = await import(${JSON.stringify(join(REPO_ROOT, 'src/repo/index.ts'))});
        const backend = openFsBackend(${JSON.stringify(dir)}, {
          failpoint: () => { process.kill(process.pid, 'SIGKILL'); },
        });
        await backend.put('data', 'ab0001', Buffer.alloc(100_000, 7));
      `;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
      expect({ code, signal, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });

      const backend = openFsBackend(dir);
      const leftovers = await readdir(join(dir, 'data', 'ab'));
      expect(leftovers).toHaveLength(1);
      expect(leftovers[0]).toMatch(/^\.tmp-/);
      expect(await backend.stat('data', 'ab0001')).toBeUndefined();
      expect(await listAll(backend, 'data')).toEqual([]);
      // A fresh temp file is left alone by default (it may be another process's put in progress).
      expect(await backend.cleanup()).toEqual([]);
      expect(await backend.cleanup({ minAgeMs: 0 })).toEqual([
        join(dir, 'data', 'ab', leftovers[0]!),
      ]);
      expect(await readdir(join(dir, 'data', 'ab'))).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('cleans old temp files in every folder and nothing else', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const backend = openFsBackend(dir);
      await backend.put('data', 'ab01', Buffer.from('keep'));
      await backend.put('keys', 'k1', Buffer.from('keep'));
      const planted = [
        join(dir, `${FS_TEMP_PREFIX}config`),
        join(dir, 'keys', `${FS_TEMP_PREFIX}1`),
        join(dir, 'data', 'ab', `${FS_TEMP_PREFIX}2`),
      ];
      const old = new Date(Date.now() - 2 * 3_600_000);
      for (const path of planted) {
        await writeFile(path, 'partial');
        await utimes(path, old, old);
      }
      expect((await backend.cleanup()).sort()).toEqual([...planted].sort());
      expect(await listAll(backend, 'data')).toEqual(['ab01']);
      expect(await listAll(backend, 'keys')).toEqual(['k1']);
    } finally {
      await cleanup();
    }
  });

  it('ignores stray files: misplaced packs, unknown fan-out folders, odd names', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const backend = openFsBackend(dir);
      await backend.put('data', 'ab01', Buffer.from('x'));
      await writeFile(join(dir, 'data', 'ab', 'cd02'), 'misplaced');
      await mkdir(join(dir, 'data', 'zz'));
      await writeFile(join(dir, 'data', 'zz', 'zz03'), 'x');
      await writeFile(join(dir, 'data', 'ab', '.DS_Store'), 'x');
      await mkdir(join(dir, 'index', 'sub'), { recursive: true });
      expect(await listAll(backend, 'data')).toEqual(['ab01']);
      expect(await listAll(backend, 'index')).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('reports I/O failures as SHIP_REPO_IO (exit 3) naming the path', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // The repository "folder" is a regular file: nothing can be created under it.
      const root = join(dir, 'not-a-dir');
      await writeFile(root, 'x');
      const backend = openFsBackend(root);
      const error: unknown = await backend
        .put('keys', 'k1', Buffer.from('k'))
        .catch((e: unknown) => e);
      expect(isShipError(error) && { code: error.code, exitCode: error.exitCode }).toEqual({
        code: 'SHIP_REPO_IO',
        exitCode: 3,
      });
      expect((error as Error).message).toContain(join(root, 'keys', 'k1'));
      const listError: unknown = await listAll(backend, 'keys').catch((e: unknown) => e);
      expect(isShipError(listError) && listError.code).toBe('SHIP_REPO_IO');
    } finally {
      await cleanup();
    }
  });
});
