import { spawn } from 'node:child_process';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

import { ShipError, redact } from '../core/index.js';

import { ProcessErrorCode, badSpec, interrupted } from './errors.js';
import { ProcessGroup, type GroupLeader, type ProcessExit, type StopOutcome } from './group.js';
import { healthProbe, type HealthCheck, type HealthProbe } from './health.js';
import { ProcessLog } from './log.js';
import { shellScript } from './shell.js';

/** What to run, how to tell it is ready, and how long to wait for it to start and to stop. */
export interface ProcessSpec {
  /** Shell command line, run with `/bin/sh -c` (as users write it in YAML). */
  command: string;
  /** Working directory; must exist. */
  cwd: string;
  /** Extra environment, merged over `baseEnv`. */
  env?: Record<string, string>;
  /** The environment `env` is merged over. @default process.env */
  baseEnv?: NodeJS.ProcessEnv;
  /** When the process counts as started; without one it is started once it has been spawned. */
  health?: HealthCheck;
  /** How long to wait for the health check to pass, from spawn (ms). @default 30000 */
  startTimeoutMs?: number;
  /** Pause between health probes (ms); doubles after each failed probe, up to 1 s. @default 100 */
  probeIntervalMs?: number;
  /** Grace period after SIGTERM before SIGKILL (ms). @default 10000 */
  stopTimeoutMs?: number;
  /** File the combined, redacted output is appended to (created with mode 0600). */
  logFile?: string;
  /** Label for messages, e.g. `service orders-api`. */
  name: string;
  /** Aborting it while the process starts stops the process and rejects with `SHIP_PROCESS_INTERRUPTED`. */
  signal?: AbortSignal;
}

/** A started, healthy process (see {@link startProcess}). */
export interface RunningProcess {
  readonly pid: number;
  readonly name: string;
  /** Milliseconds (monotonic clock) from spawn to the first passing health check. */
  readonly startedInMs: number;
  /** The last `maxBytes` of combined output (at most about 256 KiB is kept) as text, secrets redacted. */
  logTail(maxBytes?: number): string;
  /** Resolves when the process has exited (by itself or stopped) and its output is complete. */
  readonly exited: Promise<ProcessExit>;
  /**
   * SIGTERM to the process group, up to `stopTimeoutMs` for the group to end, then SIGKILL to
   * the group. Idempotent: every call returns the same outcome.
   */
  stop(): Promise<StopOutcome>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_PROBE_INTERVAL_MS = 100;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Failed probes back off to this interval (or to `probeIntervalMs`, if larger). */
const MAX_PROBE_INTERVAL_MS = 1000;
/** One probe may take this long before it counts as failed. */
const PROBE_TIMEOUT_MS = 2000;
/** A probe near the deadline still gets this long, so its failure says something useful. */
const MIN_PROBE_TIMEOUT_MS = 250;
/** Output lines an error message quotes. */
const ERROR_LOG_LINES = 20;
function positive(
  name: string,
  field: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw badSpec(
      name,
      field,
      `${field} must be a positive number of milliseconds, got ${value}`,
      `set ${field} to a value above 0, or leave it out`,
    );
  }
  return value;
}

interface Settings {
  startTimeoutMs: number;
  probeIntervalMs: number;
  stopTimeoutMs: number;
  probe: HealthProbe | undefined;
}

async function checkSpec(spec: ProcessSpec): Promise<Settings> {
  const { name } = spec;
  if (spec.command.trim() === '') {
    throw badSpec(
      name,
      'command',
      'the command is empty',
      'give the command line that starts the service',
    );
  }
  const isDirectory = await stat(spec.cwd).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (!isDirectory) {
    throw badSpec(
      name,
      'cwd',
      `working directory ${spec.cwd} does not exist or is not a directory`,
      'create it, or point cwd at the directory the command runs in',
    );
  }
  return {
    startTimeoutMs: positive(name, 'startTimeoutMs', spec.startTimeoutMs, DEFAULT_START_TIMEOUT_MS),
    probeIntervalMs: positive(
      name,
      'probeIntervalMs',
      spec.probeIntervalMs,
      DEFAULT_PROBE_INTERVAL_MS,
    ),
    stopTimeoutMs: positive(name, 'stopTimeoutMs', spec.stopTimeoutMs, DEFAULT_STOP_TIMEOUT_MS),
    probe: spec.health === undefined ? undefined : healthProbe(name, spec.health),
  };
}

async function openLog(spec: ProcessSpec): Promise<FileHandle | undefined> {
  if (spec.logFile === undefined) return undefined;
  try {
    return await open(spec.logFile, 'a', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw ShipError.runtime(
      ProcessErrorCode.logFailed,
      `${spec.name}: cannot open log file ${spec.logFile} (${code})`,
      {
        details: { name: spec.name, logFile: spec.logFile },
        hint: 'check that its directory exists and is writable',
        cause: error,
      },
    );
  }
}

function spawned(child: GroupLeader): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
}

function quoted(tail: string): string {
  return tail === '' ? ' (it wrote no output)' : `; its last output:\n${tail}`;
}

function exitedError(spec: ProcessSpec, status: ProcessExit, tail: string): ShipError {
  const command = redact(spec.command);
  const details = {
    name: spec.name,
    command,
    exitCode: status.code,
    signal: status.signal,
    logTail: tail,
  };
  if (status.code === 127) {
    return ShipError.runtime(
      ProcessErrorCode.notFound,
      `${spec.name}: command not found: ${command}${quoted(tail)}`,
      {
        details,
        hint: `check that the program is installed and on PATH, or give its full path (run in ${spec.cwd})`,
      },
    );
  }
  const how =
    status.signal === null
      ? `exited with code ${status.code ?? 'unknown'}`
      : `was killed by ${status.signal}`;
  const inUse = /EADDRINUSE/.test(tail);
  const port = /EADDRINUSE\b.*?:(\d{1,5})\b/.exec(tail)?.[1];
  const hint = inUse
    ? `a port it binds${port === undefined ? '' : ` (${port})`} is already in use (EADDRINUSE): stop whatever holds it, or give the service a free port`
    : `check the command and its output; run \`${command}\` in ${spec.cwd} to reproduce`;
  return ShipError.runtime(
    ProcessErrorCode.exited,
    `${spec.name} ${how} before it was healthy${quoted(tail)}`,
    {
      details: { ...details, ...(port === undefined ? {} : { port: Number(port) }) },
      hint,
    },
  );
}

function unhealthyError(
  spec: ProcessSpec,
  settings: Settings,
  pid: number,
  lastError: string,
  tail: string,
): ShipError {
  const target = settings.probe?.target ?? 'the health check';
  return ShipError.runtime(
    ProcessErrorCode.unhealthy,
    `${spec.name} did not become healthy within ${settings.startTimeoutMs} ms: ${target} last failed with ${lastError}${quoted(tail)}`,
    {
      details: {
        name: spec.name,
        pid,
        target,
        startTimeoutMs: settings.startTimeoutMs,
        lastError,
        logTail: tail,
      },
      hint: `check that the service listens on ${target} and answers 2xx/3xx, or allow it more time (startTimeoutMs)`,
    },
  );
}

/**
 * Starts `spec.command` with `/bin/sh -c` in its own process group, captures its combined
 * output, and waits until its health check passes. The child is stopped again (and the promise
 * rejects) when it exits first (`SHIP_PROCESS_EXITED`, or `SHIP_PROCESS_NOT_FOUND` for exit
 * 127), when the check does not pass in time (`SHIP_PROCESS_UNHEALTHY`) or when `signal` aborts
 * (`SHIP_PROCESS_INTERRUPTED`, exit 130). Stopping signals the whole group, so the programs a
 * shell started die with it.
 *
 * @example
 * const ports = await allocatePorts(['http']);
 * const service = await startProcess({
 *   name: 'service orders-api',
 *   command: 'node server.mjs',
 *   cwd: '/srv/orders',
 *   env: { PORT: String(ports.http) },
 *   health: { http: '/readyz', port: ports.http },
 * });
 * // … drill against it …
 * await service.stop();
 */
export async function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  const settings = await checkSpec(spec);
  const { signal } = spec;
  if (signal?.aborted === true) throw interrupted(spec.name);
  const handle = await openLog(spec);
  const log = new ProcessLog(handle);

  const startedAt = performance.now();
  const child = spawn('/bin/sh', ['-c', shellScript(spec.command)], {
    cwd: spec.cwd,
    env: { ...(spec.baseEnv ?? process.env), ...spec.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Attached now: a child that fails at once must not lose the output that explains why.
  child.stdout.on('data', (chunk: Buffer) => {
    log.write('stdout', chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    log.write('stderr', chunk);
  });
  try {
    await spawned(child);
  } catch (error) {
    await log.close();
    throw ShipError.runtime(
      ProcessErrorCode.spawnFailed,
      `${spec.name}: cannot start /bin/sh (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      {
        details: { name: spec.name },
        hint: 'the system may be out of processes or memory; retry, or check ulimit -u',
        cause: error,
        retryable: true,
      },
    );
  }
  const group = new ProcessGroup(child, log, settings.stopTimeoutMs);

  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => {
      resolve('aborted');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  let outcome: StartOutcome;
  try {
    outcome = await waitHealthy(settings, startedAt, group.exitEvent, aborted, signal);
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
  switch (outcome.state) {
    case 'healthy':
      return {
        pid: group.pid,
        name: spec.name,
        startedInMs: performance.now() - startedAt,
        logTail: (maxBytes) => log.tail(maxBytes),
        exited: group.exited,
        stop: () => group.stop(),
      };
    case 'exited':
      throw exitedError(spec, await group.exited, log.lastLines(ERROR_LOG_LINES));
    case 'aborted':
      await group.stop();
      throw interrupted(spec.name);
    case 'unhealthy':
      await group.stop();
      throw unhealthyError(
        spec,
        settings,
        group.pid,
        outcome.lastError,
        log.lastLines(ERROR_LOG_LINES),
      );
  }
}

/** How waiting for health ended. */
type StartOutcome =
  | { state: 'healthy' }
  | { state: 'exited' }
  | { state: 'aborted' }
  | { state: 'unhealthy'; lastError: string };

function pause(ms: number): { done: Promise<'waited'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<'waited'>((resolve) => {
    timer = setTimeout(() => {
      resolve('waited');
    }, ms);
  });
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
    },
  };
}

/** Probes until healthy, the process exits, the start is aborted or the deadline passes. */
async function waitHealthy(
  settings: Settings,
  startedAt: number,
  exitEvent: Promise<ProcessExit>,
  aborted: Promise<'aborted'>,
  signal: AbortSignal | undefined,
): Promise<StartOutcome> {
  const { probe } = settings;
  if (probe === undefined) return { state: 'healthy' };
  const ended = exitEvent.then(() => 'exited' as const);
  const deadline = startedAt + settings.startTimeoutMs;
  const maxInterval = Math.max(settings.probeIntervalMs, MAX_PROBE_INTERVAL_MS);
  let interval = settings.probeIntervalMs;
  let lastError = 'no probe finished';
  for (;;) {
    if (signal?.aborted === true) return { state: 'aborted' };
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { state: 'unhealthy', lastError };
    const result = await Promise.race([
      probe
        .probe(Math.min(PROBE_TIMEOUT_MS, Math.max(remaining, MIN_PROBE_TIMEOUT_MS)))
        .then((why) => ({ why })),
      ended,
      aborted,
    ]);
    if (result === 'exited' || result === 'aborted') return { state: result };
    if (result.why === undefined) return { state: 'healthy' };
    lastError = result.why;
    const wait = pause(Math.max(0, Math.min(interval, deadline - performance.now())));
    const next = await Promise.race([wait.done, ended, aborted]);
    wait.cancel();
    if (next !== 'waited') return { state: next };
    interval = Math.min(interval * 2, maxInterval);
  }
}
