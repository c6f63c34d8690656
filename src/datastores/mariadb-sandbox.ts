/** A throwaway MariaDB server on loopback: for drills, and to fingerprint a dump. */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { registerSecret, type ShipError } from '../core/index.js';

import type { KeptSandbox, Sandbox, SandboxOptions, SnapshotReader } from './driver.js';
import {
  findMariadbTool,
  parseMariadbConnection,
  runSql,
  type MariadbConnection,
  type MariadbTool,
} from './mariadb-client.js';
import { CLIENT_NAMES, checkRestorable, restoreInto } from './mariadb-restore.js';
import { runChild, startChild, type RunningChild } from './process.js';
import {
  freePort,
  killAndRemoveCommand,
  osUser,
  releaseChild,
  requireTraversable,
  sandboxFailed as sharedSandboxFailed,
} from './sandbox-support.js';

/** How long the server may take to accept connections, and to shut down. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

/** A running throwaway server with one empty database, `restored`. */
export interface MariadbServer {
  /** `mysql://shipshape:…@127.0.0.1:PORT/restored` */
  readonly connection: string;
  readonly conn: MariadbConnection;
  readonly client: MariadbTool;
  /** Server version (`10.11.6-MariaDB`). */
  readonly version: string;
  /** Stops the server and deletes its data. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Lets a `keepable` server outlive this process and says how to reach it without a password
   * (the OS user's socket login) and how to stop it. `stop()` does nothing afterwards.
   */
  keep(): KeptSandbox;
}

function sandboxFailed(step: string, cause: unknown): ShipError {
  return sharedSandboxFailed(
    'MariaDB',
    step,
    cause,
    'install mariadb-server and check free disk space in the sandbox directory',
  );
}

/**
 * Starts mariadbd on a free loopback port with its data, socket and log in a new directory
 * under `baseDir` (owned by `mysql` when running as root), creates a password user and an
 * empty database `restored`. `binaryLog` turns binary logging on (for tests of the position);
 * `keepable` starts the server in its own session so that {@link MariadbServer.keep} can leave it up.
 */
export async function startServer(
  options: SandboxOptions & { binaryLog?: boolean; keepable?: boolean } = {},
): Promise<MariadbServer> {
  const installDb = await findMariadbTool(['mariadb-install-db', 'mysql_install_db']);
  const daemon = await findMariadbTool(['mariadbd', 'mysqld']);
  const client = await findMariadbTool(CLIENT_NAMES);
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? await osUser('mysql') : undefined;
  const base = options.baseDir ?? tmpdir();
  await mkdir(base, { recursive: true });
  if (owner !== undefined) await requireTraversable(base, 'MariaDB', 'mysql');
  const dir = await mkdtemp(join(base, 'shipshape-mariadb-sandbox-'));
  const data = join(dir, 'data');
  const run = join(dir, 'run');
  const socket = join(run, 'mariadbd.sock');
  const password = randomBytes(18).toString('base64url');
  registerSecret(password);
  let server: RunningChild | undefined;
  let kept = false;
  const stop = async () => {
    if (kept) return;
    const running = server;
    server = undefined;
    if (running !== undefined) {
      running.kill();
      const timer = setTimeout(() => running.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await running.exited.catch(() => undefined);
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(run);
    if (owner !== undefined) for (const path of [dir, run]) await chown(path, owner.uid, owner.gid);
    await chmod(dir, 0o700);
    // The server writes temporary files to $TMPDIR, which the `mysql` user may not be able to
    // write (a private temporary directory of the caller's): keep them in the sandbox.
    const scratch = { TMPDIR: run };
    const userFlag = owner === undefined ? [] : ['--user=mysql'];
    await runChild(
      installDb.path,
      [
        '--no-defaults',
        ...userFlag,
        `--datadir=${data}`,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
      ],
      { what: installDb.name, env: scratch },
    ).catch((error: unknown) => {
      throw sandboxFailed(installDb.name, error);
    });
    const port = await freePort();
    server = startChild(
      daemon.path,
      [
        '--no-defaults',
        ...userFlag,
        `--datadir=${data}`,
        `--socket=${socket}`,
        `--pid-file=${join(run, 'mariadbd.pid')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        ...(options.binaryLog === true
          ? [`--log-bin=${join(data, 'binlog')}`, '--server-id=1']
          : ['--skip-log-bin']),
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_unicode_ci',
        '--innodb-flush-log-at-trx-commit=0',
        '--max-allowed-packet=1G',
        `--log-error=${join(dir, 'server.log')}`,
      ],
      { detached: options.keepable === true, env: scratch },
    );
    const started = server;
    const admin = { socket, user: userInfo().username, location: `sandbox ${dir}` };
    const deadline = Date.now() + START_TIMEOUT_MS;
    let version: string | undefined;
    while (version === undefined) {
      const exited = await Promise.race([server.exited.then(() => true), sleep(200, false)]);
      if (exited) throw sandboxFailed('mariadbd start', `the server exited; see ${dir}/server.log`);
      version = await runSql(client, admin, 'SELECT VERSION();').then(
        (rows) => rows[0]?.[0] ?? 'unknown',
        () => undefined,
      );
      if (version === undefined && Date.now() > deadline)
        throw sandboxFailed('mariadbd start', 'the server did not accept connections within 60 s');
    }
    await runSql(
      client,
      admin,
      `CREATE USER 'shipshape'@'127.0.0.1' IDENTIFIED BY '${password}';
       GRANT ALL PRIVILEGES ON *.* TO 'shipshape'@'127.0.0.1' WITH GRANT OPTION;
       CREATE DATABASE restored CHARACTER SET utf8mb4;`,
    ).catch((error: unknown) => {
      throw sandboxFailed('creating the sandbox user', error);
    });
    const connection = `mysql://shipshape:${encodeURIComponent(password)}@127.0.0.1:${port}/restored`;
    const keep = (): KeptSandbox => {
      kept = true;
      const pid = releaseChild(started);
      return {
        connection: `mysql://${encodeURIComponent(admin.user)}@localhost/restored?socket=${socket}`,
        stop: killAndRemoveCommand(pid, dir),
        pid,
        dataDir: dir,
      };
    };
    return { connection, conn: parseMariadbConnection(connection), client, version, stop, keep };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function sandbox(
  from: SnapshotReader,
  options: SandboxOptions = {},
): Promise<Sandbox> {
  checkRestorable(from);
  const server = await startServer({ ...options, keepable: true });
  try {
    await restoreInto(from, server.conn, {});
    return {
      target: {
        name: `${from.snapshot.manifest.source.name ?? 'mariadb'}-sandbox`,
        connection: server.connection,
      },
      stop: () => server.stop(),
      keep: () => Promise.resolve(server.keep()),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
