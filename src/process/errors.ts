import { ExitCode, ShipError } from '../core/index.js';

/** Stable codes of process-runner failures (see docs/process.md). */
export const ProcessErrorCode = {
  /** The spec cannot be run: empty command, missing `cwd`, a bad health check or timeout. Exit 2. */
  badSpec: 'SHIP_PROCESS_BAD_SPEC',
  /** The process exited (or was killed) before it became healthy. Exit 3. */
  exited: 'SHIP_PROCESS_EXITED',
  /** The shell could not find the command (`sh` exited 127). Exit 3. */
  notFound: 'SHIP_PROCESS_NOT_FOUND',
  /** The health check did not pass within the start timeout; the process was stopped. Exit 3. */
  unhealthy: 'SHIP_PROCESS_UNHEALTHY',
  /** The start was aborted (SIGINT/SIGTERM); the process was stopped. Exit 130. */
  interrupted: 'SHIP_PROCESS_INTERRUPTED',
  /** The log file could not be opened for appending. Exit 3. */
  logFailed: 'SHIP_PROCESS_LOG_FAILED',
  /** `/bin/sh` itself could not be started (out of processes, memory). Exit 3. */
  spawnFailed: 'SHIP_PROCESS_SPAWN_FAILED',
} as const;

export type ProcessErrorCodeValue = (typeof ProcessErrorCode)[keyof typeof ProcessErrorCode];

/** `SHIP_PROCESS_BAD_SPEC` (exit 2) for the field `field` of the process named `name`. */
export function badSpec(name: string, field: string, message: string, hint: string): ShipError {
  return ShipError.usage(ProcessErrorCode.badSpec, `${name}: ${message}`, {
    details: { name, field },
    hint,
  });
}

/** `SHIP_PROCESS_INTERRUPTED` (exit 130): the start was aborted and the process stopped. */
export function interrupted(name: string): ShipError {
  return new ShipError(
    ProcessErrorCode.interrupted,
    `${name} was stopped: the start was interrupted`,
    { exitCode: ExitCode.interrupted, details: { name } },
  );
}
