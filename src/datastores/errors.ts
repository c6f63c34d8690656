import { ShipError, redact } from '../core/index.js';

import type { ToolRequirement } from './driver.js';

/** Stable codes of data-store failures (see docs/datastores/*.md). */
export const DatastoreErrorCode = {
  /** The server did not answer (refused, timed out, unknown host). Exit 3, retryable. */
  unreachable: 'SHIP_DATASTORE_UNREACHABLE',
  /** The server rejected the credentials. Exit 3. */
  authFailed: 'SHIP_DATASTORE_AUTH_FAILED',
  /** The account lacks a privilege the operation needs, or a file is not readable. Exit 3. */
  permissionDenied: 'SHIP_DATASTORE_PERMISSION_DENIED',
  /** The database, file or directory does not exist. Exit 3. */
  notFound: 'SHIP_DATASTORE_NOT_FOUND',
  /** A program the driver runs is not installed. Exit 3. */
  toolMissing: 'SHIP_DATASTORE_TOOL_MISSING',
  /** A program the driver ran failed (its redacted error output is in the message). Exit 3. */
  toolFailed: 'SHIP_DATASTORE_TOOL_FAILED',
  /** A user `command` exited non-zero. Exit 3. */
  commandFailed: 'SHIP_DATASTORE_COMMAND_FAILED',
  /** A restore target holds data and `--force` was not given. Exit 2. */
  targetNotEmpty: 'SHIP_DATASTORE_TARGET_NOT_EMPTY',
  /** No driver exists for the data store's kind yet. Exit 2. */
  noDriver: 'SHIP_DATASTORE_NO_DRIVER',
  /** The connection string cannot be parsed, or is missing what the driver needs. Exit 2. */
  badConnection: 'SHIP_DATASTORE_BAD_CONNECTION',
  /** The snapshot is not one this driver can restore (other kind, or stream vs tree). Exit 2. */
  wrongSnapshot: 'SHIP_DATASTORE_WRONG_SNAPSHOT',
  /** A sandbox instance could not be started. Exit 3. */
  sandboxFailed: 'SHIP_DATASTORE_SANDBOX_FAILED',
  /** The kind cannot start a sandbox (`command`). Exit 2. */
  noSandbox: 'SHIP_DATASTORE_NO_SANDBOX',
  /** No snapshot of the data store matches (`restore --at` before the first backup). Exit 2. */
  noSnapshot: 'SHIP_DATASTORE_NO_SNAPSHOT',
  /** A restored copy's fingerprint differs from the snapshot's. Exit 1. */
  fingerprintMismatch: 'SHIP_DATASTORE_FINGERPRINT_MISMATCH',
  /** An integrity query did not return exactly one row with one column. Exit 2. */
  queryShape: 'SHIP_DATASTORE_QUERY_SHAPE',
  /** An integrity query failed on the server (its redacted message says why). Exit 3. */
  queryFailed: 'SHIP_DATASTORE_QUERY_FAILED',
  /** The kind cannot run SQL queries (redis, files, command). Exit 2. */
  queryUnsupported: 'SHIP_DATASTORE_QUERY_UNSUPPORTED',
} as const;

/** `SHIP_DATASTORE_TOOL_MISSING` naming the packages that install the tool. */
export function toolMissing(tool: ToolRequirement, detail: string): ShipError {
  return ShipError.runtime(
    DatastoreErrorCode.toolMissing,
    `${tool.name} is not installed: ${detail}`,
    {
      details: { tool: tool.name, debian: tool.debian, homebrew: tool.homebrew },
      hint: `install it: \`apt-get install ${tool.debian}\` (Debian/Ubuntu) or \`brew install ${tool.homebrew}\` (macOS)`,
    },
  );
}

/** `SHIP_DATASTORE_TARGET_NOT_EMPTY` (exit 2). */
export function targetNotEmpty(where: string, what: string): ShipError {
  return ShipError.usage(
    DatastoreErrorCode.targetNotEmpty,
    `restore target ${where} is not empty: ${what}`,
    {
      details: { target: where },
      hint: 'restore into an empty target, or pass --force to replace its data',
    },
  );
}

/** `SHIP_DATASTORE_WRONG_SNAPSHOT` (exit 2). */
export function wrongSnapshot(id: string, why: string): ShipError {
  return ShipError.usage(DatastoreErrorCode.wrongSnapshot, `snapshot ${id} ${why}`, {
    hint: 'pick a snapshot of this data store (`shipshape backup list`)',
  });
}

/** The last `max` characters of a tool's error output, redacted, on one line each. */
export function toolOutput(text: string, max = 2000): string {
  const trimmed = text.trim();
  const tail = trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
  return redact(tail);
}
