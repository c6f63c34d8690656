import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';

/** Runs `shipshape ARGS` with standard input redirected from a file (`< file`), not a pipe. */
function runWithFileStdin(
  args: string[],
  file: string,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runWithStdinFd(args, openSync(file, 'r'), options);
}

/** Runs `shipshape ARGS` with `fd` as its standard input; closes `fd` (ours) once started. */
function runWithStdinFd(
  args: string[],
  fd: number,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, CI: '1', ...options.env },
      stdio: [fd, 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
    closeSync(fd);
  });
}

/**
 * `repo backup -` with standard input from a regular file or a pipe, both read straight from
 * fd 0 in large pieces into a reused buffer (src/cli/stdin.ts): the same bytes come back.
 */
describe('shipshape repo backup - < file (CLI)', () => {
  let root: string;
  let repo: string;
  const env = { SHIPSHAPE_REPO_PASSWORD: 'correct horse battery staple', SHIPSHAPE_REPO: '' };
  // Incompressible, and longer than two 4 MiB reads, so the last read is a partial one.
  const data = createCipheriv('aes-256-ctr', Buffer.alloc(32, 3), Buffer.alloc(16)).update(
    Buffer.alloc(9 * 1024 * 1024 + 12_345),
  );

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-stdin-file-'));
    repo = join(root, 'repo');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('backs up a redirected file byte for byte, and an empty one as an empty stream', async () => {
    const init = await runCli(['repo', 'init', '--repo', repo, '--json'], { cwd: root, env });
    expect(init.code, init.stderr).toBe(0);
    const file = join(root, 'dump.bin');
    await writeFile(file, data);

    const backup = await runWithFileStdin(
      ['repo', 'backup', '--repo', repo, '--name', 'dump', '--json', '-'],
      file,
      { cwd: root, env },
    );
    expect(backup.code, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout) as { snapshotId: string; bytesRead: number };
    expect(result.bytesRead).toBe(data.length);
    const restored = await runCli(
      ['repo', 'restore', result.snapshotId, '--repo', repo, '--stdout'],
      { cwd: root, env },
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdoutBytes.equals(data)).toBe(true);

    const empty = join(root, 'empty.bin');
    await writeFile(empty, Buffer.alloc(0));
    const none = await runWithFileStdin(['repo', 'backup', '--repo', repo, '--json', '-'], empty, {
      cwd: root,
      env,
    });
    expect(none.code, none.stderr).toBe(0);
    expect((JSON.parse(none.stdout) as { bytesRead: number }).bytesRead).toBe(0);
  });

  it.skipIf(process.platform === 'win32')('backs up from a shell pipe byte for byte', async () => {
    const file = join(root, 'dump.bin');
    const shell = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          'sh',
          ['-c', 'cat "$1" | "$2" "$3" repo backup --repo "$4" --json -', 'sh', file].concat([
            process.execPath,
            BIN,
            repo,
          ]),
          { cwd: root, env: { ...process.env, CI: '1', ...env } },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => {
          resolve({ code: code ?? -1, stdout, stderr });
        });
      },
    );
    expect(shell.code, shell.stderr).toBe(0);
    const second = JSON.parse(shell.stdout) as { snapshotId: string; bytesRead: number };
    expect(second.bytesRead).toBe(data.length);

    const restored = await runCli(
      ['repo', 'restore', second.snapshotId, '--repo', repo, '--stdout'],
      { cwd: root, env },
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdoutBytes.equals(data)).toBe(true);
  });
});
