import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI entry point (`npm test` builds before running the tests). */
export const BIN = fileURLToPath(new URL('../../bin/shipshape.js', import.meta.url));
const DIST_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for commands that write binary data (`repo restore --stdout`). */
  stdoutBytes: Buffer;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes to pipe to the command's standard input. */
  input?: Buffer;
}

/** Runs `shipshape ARGS` as a child process, as a user would, and collects its output. */
export function runCli(
  args: string[],
  options: CliOptions = { cwd: process.cwd() },
): Promise<CliRun> {
  if (!existsSync(DIST_MAIN)) {
    throw new Error(`${DIST_MAIN} is missing: run \`npm run build\` before the CLI tests`);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, CI: '1', ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the command may exit before reading it all
      child.stdin.end(options.input);
    }
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: stdoutBytes.toString('utf8'), stderr, stdoutBytes });
    });
  });
}
