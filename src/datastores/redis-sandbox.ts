/** A throwaway redis-server on loopback, started on an RDB file: for fingerprints, restores, drills. */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { ShipError, isShipError, registerSecret } from '../core/index.js';

import type { ToolRequirement } from './driver.js';
import { DatastoreErrorCode, toolMissing } from './errors.js';
import {
  RedisClient,
  RespError,
  parseRedisConnection,
  type RedisConnection,
} from './redis-client.js';
import { startChild, type RunningChild } from './process.js';
import { freePort, releaseChild } from './sandbox-support.js';

/** Environment variable naming the redis-server program (else it is looked up on PATH). */
export const REDIS_SERVER_ENV = 'SHIPSHAPE_REDIS_SERVER';

export const REDIS_SERVER_TOOL: ToolRequirement = {
  name: 'redis-server',
  debian: 'redis-server',
  homebrew: 'redis',
};

/** How long a sandbox may take to load its RDB and answer PING. */
const START_TIMEOUT_MS = 120_000;

/** Path of redis-server: `$SHIPSHAPE_REDIS_SERVER`, else the first on PATH. */
export async function findRedisServer(): Promise<string> {
  const explicit = process.env[REDIS_SERVER_ENV];
  const candidates =
    explicit !== undefined && explicit !== ''
      ? [explicit]
      : (process.env['PATH'] ?? '')
          .split(delimiter)
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, 'redis-server'));
  for (const file of candidates) {
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // try the next one
    }
  }
  throw toolMissing(
    REDIS_SERVER_TOOL,
    explicit !== undefined && explicit !== ''
      ? `${REDIS_SERVER_ENV}=${explicit} is not an executable`
      : 'not found on PATH',
  );
}

/** A running sandbox server. */
export interface RedisServer {
  readonly conn: RedisConnection;
  /** The connection as a URL (password included). */
  readonly url: string;
  readonly version: string;
  /** Stops the server (SIGTERM, then SIGKILL). Safe to call twice. Leaves `dir` in place. */
  stop(): Promise<void>;
  /**
   * Lets a `keepable` server outlive this process: closes its TCP port, drops the password (the
   * only way in is then the socket, in a directory only its owner can enter) and releases the
   * child. Without a socket (its path was too long) the TCP port and password stay. `stop()` does
   * nothing afterwards.
   */
  keep(): Promise<{ pid: number; socket?: string }>;
}

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /**
   * The server may be kept ({@link RedisServer.keep}): start it in its own session and listen on
   * a socket in `dir` too. @default false
   */
  keepable?: boolean;
}

/** Longest socket path every platform accepts (`sun_path` is 104 bytes on macOS, 108 on Linux). */
const MAX_SOCKET_PATH = 100;

/**
 * Starts redis-server on `dir/dbfilename` (which may not exist: then it starts empty) on a free
 * loopback port, with persistence off (`save ""`, no AOF) and a random password written to a
 * 0600 config file (never on a command line). Resolves once the data is loaded.
 */
export async function startRedisServer(
  dir: string,
  dbfilename: string,
  options: RedisServerOptions = {},
): Promise<RedisServer> {
  const program = await findRedisServer();
  const password = randomBytes(18).toString('base64url');
  registerSecret(password);
  const port = await freePort();
  const config = join(dir, 'sandbox.conf');
  const log = join(dir, 'server.log');
  const socketPath = join(dir, 'redis.sock');
  const socket =
    options.keepable === true && Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH
      ? socketPath
      : undefined;
  await writeFile(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode yes',
      'daemonize no',
      `dir "${dir}"`,
      `dbfilename "${dbfilename}"`,
      'save ""',
      'appendonly no',
      `logfile "${log}"`,
      `requirepass "${password}"`,
      ...(socket === undefined ? [] : [`unixsocket "${socket}"`, 'unixsocketperm 700']),
      // Loading any RDB the source wrote: keep what would otherwise be refused or trimmed.
      'sanitize-dump-payload no',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const running: RunningChild = startChild(program, [config], {
    detached: options.keepable === true,
  });
  const state = { exited: false, kept: false };
  void running.exited.then(
    () => {
      state.exited = true;
    },
    () => {
      state.exited = true;
    },
  );
  const stop = async () => {
    if (state.exited || state.kept) return;
    running.kill();
    const killer = setTimeout(() => running.child.kill('SIGKILL'), 10_000);
    await running.exited.catch(() => undefined);
    clearTimeout(killer);
  };
  const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const conn = parseRedisConnection(url);
  const keep = async () => {
    if (socket !== undefined) {
      const client = await RedisClient.connect(conn, 'keeping the sandbox');
      try {
        // Port first: once the password is gone, only the owner-only socket may be open.
        await client.command('CONFIG', 'SET', 'port', '0');
        await client.command('CONFIG', 'SET', 'requirepass', '');
      } finally {
        client.close();
      }
    }
    state.kept = true;
    return { pid: releaseChild(running), ...(socket === undefined ? {} : { socket }) };
  };
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (state.exited) {
        const exit = await running.exited;
        throw new Error(
          `redis-server exited with ${exit.code ?? exit.signal ?? 'no code'}: ${await logTail(log, exit.stderr)}`,
        );
      }
      const version = await tryVersion(conn);
      if (version !== undefined) return { conn, url, version, stop, keep };
      if (Date.now() > deadline)
        throw new Error(`redis-server did not answer within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(50);
    }
  } catch (error) {
    await stop();
    if (isShipError(error)) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw toolMissing(REDIS_SERVER_TOOL, program);
    throw ShipError.runtime(
      DatastoreErrorCode.sandboxFailed,
      `the redis sandbox failed to start: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
        hint: 'the local redis-server must be at least as new as the server the backup came from; check free disk space',
      },
    );
  }
}

/** The server's version once it answers (not while it is still loading), else undefined. */
async function tryVersion(conn: RedisConnection): Promise<string | undefined> {
  let client: RedisClient | undefined;
  try {
    client = await RedisClient.connect(conn, 'starting the sandbox');
    await client.command('PING');
    const info = await client.text('INFO', 'server');
    return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  } catch (error) {
    if (error instanceof RespError && error.prefix !== 'LOADING') throw error;
    return undefined;
  } finally {
    client?.close();
  }
}

async function logTail(log: string, stderr: string): Promise<string> {
  const text = await readFile(log, 'utf8').catch(() => '');
  const lines = `${text}\n${stderr}`.trim().split('\n').slice(-5);
  return lines.join(' | ');
}
