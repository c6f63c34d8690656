/** Pieces every driver's sandbox shares: the directory checks, the error, local-file sandboxes. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { ShipError, isShipError } from '../core/index.js';

import type { Sandbox, SandboxOptions, SnapshotReader } from './driver.js';
import { DatastoreErrorCode } from './errors.js';
import { runChild, type RunningChild } from './process.js';

/**
 * A server that runs as `osUser` (PostgreSQL as `postgres`, MariaDB as `mysql`) needs every
 * directory above its data to let others pass; says which one does not, and how to fix it.
 */
export async function requireTraversable(
  base: string,
  server: string,
  osUser: string,
): Promise<void> {
  for (let dir = resolve(base); ; dir = dirname(dir)) {
    const info = await stat(dir);
    if ((info.mode & 0o001) === 0) {
      throw ShipError.runtime(
        DatastoreErrorCode.sandboxFailed,
        `the ${server} sandbox cannot live under ${base}: the ${osUser} user cannot enter ${dir}`,
        {
          hint: `choose a sandbox directory the ${osUser} user can reach, or \`chmod o+x ${dir}\``,
        },
      );
    }
    if (dirname(dir) === dir) return;
  }
}

/** `SHIP_DATASTORE_SANDBOX_FAILED` for a sandbox of `server` that failed at `step`. */
export function sandboxFailed(
  server: string,
  step: string,
  cause: unknown,
  hint: string,
): ShipError {
  const message = isShipError(cause) ? cause.message : String(cause);
  return ShipError.runtime(
    DatastoreErrorCode.sandboxFailed,
    `the ${server} sandbox failed at ${step}: ${message}`,
    { cause, hint },
  );
}

/**
 * A sandbox that is only a restored copy on disk (sqlite: a file, files: a directory): restores
 * `from` into `<temp dir>/<leaf>` with `restore`, and removes the directory on `stop`.
 */
export async function localCopySandbox(
  from: SnapshotReader,
  options: SandboxOptions,
  kind: string,
  leaf: string,
  restore: (from: SnapshotReader, path: string, force: boolean) => Promise<void>,
): Promise<Sandbox> {
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), `shipshape-${kind}-sandbox-`));
  const path = join(dir, leaf);
  try {
    await restore(from, path, false);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let kept = false;
  return {
    target: { name: `${from.snapshot.manifest.source.name ?? kind}-sandbox`, connection: path },
    stop: async () => {
      if (!kept) await rm(dir, { recursive: true, force: true });
    },
    keep: () => {
      kept = true;
      return Promise.resolve({ connection: path, stop: `rm -rf ${shellQuote(dir)}`, dataDir: dir });
    },
  };
}

/** `text` quoted for a POSIX shell (left bare when it holds nothing the shell would interpret). */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The shell command that stops a kept sandbox server by `pid` (SIGTERM, then waits until it has
 * exited, an unreaped zombie counting as exited, so the data is no longer in use) and removes
 * `dir`.
 */
export function killAndRemoveCommand(pid: number, dir: string): string {
  return (
    `kill ${pid} 2>/dev/null; ` +
    `while kill -0 ${pid} 2>/dev/null && ! ps -o stat= -p ${pid} | grep -q Z; do sleep 0.2; done; ` +
    `rm -rf ${shellQuote(dir)}`
  );
}

/**
 * Lets a server child outlive this process: stops waiting for it (so Node can exit) and closes
 * our ends of its output pipes (the servers log to files and ignore SIGPIPE). Returns its pid.
 */
export function releaseChild(running: RunningChild): number {
  const pid = running.child.pid;
  if (pid === undefined) throw new Error('the sandbox server has no process id');
  running.child.stdout?.destroy();
  running.child.stderr?.destroy();
  running.child.unref();
  return pid;
}

/** A free TCP port on 127.0.0.1 (the kernel picks; it is released just before the server binds). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolvePort(port);
      });
    });
  });
}

/** uid and gid of an OS user a server must run as (`postgres`, `mysql`: they refuse root). */
export async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await runChild('id', ['-u', name], { what: `id -u ${name}` })).trim());
  const gid = Number((await runChild('id', ['-g', name], { what: `id -g ${name}` })).trim());
  return { uid, gid };
}
