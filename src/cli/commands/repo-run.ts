import { isSimulatedCrash, isShipError, redact } from '../../core/index.js';
import { findSpecFile } from '../../spec/index.js';
import { withWorkspace, type Cli } from '../cli.js';
import { err } from '../io.js';

type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
type JsonObject = { [key: string]: JsonValue };

/** The run of a repository operation that may be recorded as failed. */
export interface RepoRun {
  /** `backup`, `check`, `prune`, … */
  readonly operation: string;
  /** The spec's name for the repository, or its location. */
  readonly repository: string;
  /** Directory or `s3://…` URL. */
  readonly location: string;
  /** `--spec` as given. */
  readonly spec?: string | undefined;
}

/**
 * Runs a repository operation and, when it fails inside a workspace (a spec is found, as for
 * every other command), records a `repo-run-failed` event before the error goes on to the
 * CLI shell: operation, repository, error code, exit code, message and the holders of any lock
 * in the way. A held or stale lock is thereby an exit code (13) *and* a record, never a silent
 * skip. Outside a workspace the exit code and message are the record. A failure to record is
 * reported on stderr and never hides the operation's own error.
 *
 * @example
 * await recordingFailedRun(cli, { operation: 'prune', repository: name, location, spec }, () =>
 *   repository.prune(options),
 * );
 */
export async function recordingFailedRun<T>(
  cli: Cli,
  run: RepoRun,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!isSimulatedCrash(error)) await recordFailedRun(cli, run, error);
    throw error;
  }
}

/** Records `error` as a failed run of `run` in the workspace's ledger, if there is a workspace. */
export async function recordFailedRun(cli: Cli, run: RepoRun, error: unknown): Promise<void> {
  if (!inWorkspace(cli, run.spec)) return;
  try {
    await withWorkspace(cli, run.spec, async (workspace) => {
      const evidence = await workspace.evidence();
      await evidence.record({
        kind: 'event',
        subject: `repository:${run.repository}`.slice(0, 256),
        body: { type: 'repo-run-failed', details: failedRunDetails(run, error) },
      });
    });
  } catch (recordError) {
    if (isSimulatedCrash(recordError)) throw recordError;
    const why = recordError instanceof Error ? recordError.message : String(recordError);
    err(cli.io, `note: the failed ${run.operation} could not be recorded in the ledger: ${why}`);
  }
}

function inWorkspace(cli: Cli, spec: string | undefined): boolean {
  try {
    findSpecFile(cli.io.cwd, spec);
    return true;
  } catch {
    return false;
  }
}

/** What a `repo-run-failed` event carries (JSON, secrets redacted). */
export function failedRunDetails(run: RepoRun, error: unknown): JsonObject {
  const code = isShipError(error) ? error.code : 'SHIP_INTERNAL';
  const exitCode = isShipError(error) ? error.exitCode : 3;
  const message = error instanceof Error ? error.message : String(error);
  const details: JsonObject = {
    operation: run.operation,
    repository: run.repository,
    location: run.location,
    code,
    exitCode,
    message: redact(message.split('\n', 1)[0] ?? message),
  };
  const locks = isShipError(error) ? lockHolders(error.details) : [];
  if (locks.length > 0) details.locks = locks;
  return details;
}

/** The lock holders of a `SHIP_REPO_LOCKED` / `SHIP_REPO_LOCK_STALE` error's details. */
function lockHolders(details: unknown): JsonObject[] {
  if (typeof details !== 'object' || details === null || !('locks' in details)) return [];
  const { locks } = details;
  if (!Array.isArray(locks)) return [];
  const out: JsonObject[] = [];
  for (const lock of locks as unknown[]) {
    if (typeof lock !== 'object' || lock === null) continue;
    const info = lock as Record<string, unknown>;
    const pick: JsonObject = {};
    for (const key of [
      'id',
      'kind',
      'operation',
      'holder',
      'host',
      'pid',
      'ageMs',
      'created',
      'expires',
      'stale',
      'staleReason',
      'staleDetail',
    ]) {
      const value = info[key];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        pick[key] = value;
      }
    }
    out.push(pick);
  }
  return out;
}
