import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';

import { ShipError } from '../core/index.js';

import { DatastoreErrorCode, toolOutput } from './errors.js';

/** Output a streaming child may have written ahead of its reader. */
const STREAM_BUFFER = 1024 * 1024;

/** Keep at most this much of a child's error output (the tail is what explains a failure). */
const STDERR_KEEP = 64 * 1024;

/** How a child process ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Its error output, redacted and trimmed to the tail. */
  readonly stderr: string;
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  /** Variables added to (or, with `undefined`, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Pipe standard input (default: ignore it). */
  stdin?: boolean;
  /** Pipe standard output (default: collect it as text in {@link RunningChild.stdoutText}). */
  stdoutStream?: boolean;
  /**
   * Start the child in its own session (`setsid`), out of reach of signals sent to this
   * process's group (a Ctrl-C, a closing terminal): for servers that may outlive us. @default false
   */
  detached?: boolean;
}

/** A started child with its exit already being awaited (so no `close` event is missed). */
export interface RunningChild {
  readonly child: ChildProcess;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly exited: Promise<ChildExit>;
  /** Collected standard output (when not streamed). */
  stdoutText(): string;
  /** Sends SIGTERM if still running. */
  kill(): void;
}

function childEnv(extra: ChildOptions['env']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (value === undefined) Reflect.deleteProperty(env, name);
    else env[name] = value;
  }
  return env;
}

/**
 * Starts `file` with `args` (no shell), capturing its (redacted) error output; a spawn failure
 * such as `ENOENT` rejects `exited`.
 */
export function startChild(
  file: string,
  args: readonly string[],
  options: ChildOptions = {},
): RunningChild {
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: childEnv(options.env),
    detached: options.detached === true,
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
  });
  const piped = child.stdout;
  if (piped === null) throw new Error('child stdout is not piped');
  let out: Readable = piped;
  if (options.stdoutStream === true) {
    // A consumer must be attached now: when a child exits, Node resumes any of its output
    // streams nobody listens to yet, discarding what is buffered. A fast pg_dump could finish
    // before the repository starts reading, and its whole archive would be lost.
    const pass = new PassThrough({ highWaterMark: STREAM_BUFFER });
    piped.pipe(pass);
    out = pass;
  } else {
    piped.setEncoding('utf8');
    piped.on('data', (text: string) => {
      stdout += text;
    });
  }
  const exited = new Promise<ChildExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({ code, signal, stderr: toolOutput(stderr) });
    });
  });
  // The caller awaits `exited`; this only keeps an early spawn error from being unhandled.
  exited.catch(() => undefined);
  child.stdin?.on('error', () => undefined);
  return {
    child,
    stdin: child.stdin,
    stdout: out,
    exited,
    stdoutText: () => stdout,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/** True for the error `spawn` gives when the program does not exist. */
export function isSpawnEnoent(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Runs a program to completion and returns its standard output; non-zero exit → `onFail`. */
export async function runChild(
  file: string,
  args: readonly string[],
  options: ChildOptions & { what: string },
): Promise<string> {
  const running = startChild(file, args, options);
  const exit = await running.exited;
  if (exit.code !== 0) throw childFailed(options.what, exit);
  return running.stdoutText();
}

/** `SHIP_DATASTORE_TOOL_FAILED` for a child that exited non-zero or was killed. */
export function childFailed(
  what: string,
  exit: ChildExit,
  code: string = DatastoreErrorCode.toolFailed,
): ShipError {
  const how =
    exit.signal === null ? `exited with ${exit.code ?? 'no code'}` : `was killed by ${exit.signal}`;
  return ShipError.runtime(code, `${what} ${how}${exit.stderr === '' ? '' : `: ${exit.stderr}`}`, {
    details: { exitCode: exit.code, signal: exit.signal },
  });
}
