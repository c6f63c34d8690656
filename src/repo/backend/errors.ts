import { ExitCode, ShipError } from '../../core/index.js';
import type { FileType } from './backend.js';

/** Stable error codes thrown by backends. */
export const BackendErrorCode = {
  notFound: 'SHIP_REPO_NOT_FOUND',
  exists: 'SHIP_REPO_EXISTS',
  io: 'SHIP_REPO_IO',
  badName: 'SHIP_REPO_BAD_NAME',
  corrupt: 'SHIP_REPO_CORRUPT',
  /** A delete refused because the object is under retention (S3 Object Lock). */
  retained: 'SHIP_REPO_RETAINED',
} as const;

const RETRYABLE_ERRNO = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ETIMEDOUT']);

function errnoOf(cause: unknown): string | undefined {
  if (typeof cause === 'object' && cause !== null && 'code' in cause) {
    const { code } = cause;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The repository expected an object that is not there (exit 11: the repository is damaged). */
export function objectNotFound(type: FileType, name: string, where: string): ShipError {
  return new ShipError(
    BackendErrorCode.notFound,
    `Repository object ${type}/${name} does not exist (looked at ${where}).`,
    {
      exitCode: ExitCode.repoCorrupt,
      details: { type, name, where },
      hint: 'check the repository path; if it is right, run `shipshape repo check` to see what else is missing',
    },
  );
}

/** A create-only put found an object of that name. */
export function objectExists(type: FileType, name: string, where: string): ShipError {
  return ShipError.runtime(
    BackendErrorCode.exists,
    `Repository object ${type}/${name} already exists (at ${where}); it was not replaced.`,
    { details: { type, name, where } },
  );
}

/** An I/O operation failed; names the operation and the path or URL. */
export function backendIo(operation: string, where: string, cause: unknown): ShipError {
  const errno = errnoOf(cause);
  const reason = cause instanceof Error ? cause.message : String(cause);
  return ShipError.runtime(BackendErrorCode.io, `Cannot ${operation} ${where}: ${reason}`, {
    cause,
    retryable: errno !== undefined && RETRYABLE_ERRNO.has(errno),
    details: { operation, where, ...(errno === undefined ? {} : { errno }) },
    hint:
      errno === 'EACCES' || errno === 'EPERM'
        ? 'check that this user may read and write the repository directory'
        : errno === 'ENOSPC'
          ? 'free space on the repository volume and retry'
          : undefined,
  });
}

/** An object name that is not allowed (path traversal, separators, bad data-name prefix). */
export function badName(type: string, name: string, expected: string): ShipError {
  return ShipError.usage(
    BackendErrorCode.badName,
    `Invalid repository object name ${JSON.stringify(name)} for type ${JSON.stringify(type)}: expected ${expected}.`,
    { details: { type, name } },
  );
}

/** A range reaches past the end of the object: the object is shorter than the repository says. */
export function shortObject(
  type: FileType,
  name: string,
  where: string,
  size: number,
  offset: number,
  length: number,
): ShipError {
  return new ShipError(
    BackendErrorCode.corrupt,
    `Repository object ${type}/${name} (${where}) is ${size} bytes; bytes ${offset}..${offset + length} were asked for.`,
    {
      exitCode: ExitCode.repoCorrupt,
      details: { type, name, where, size, offset, length },
      hint: 'the object is truncated; run `shipshape repo check --read-data` to list damaged objects',
    },
  );
}

/**
 * `SHIP_REPO_RETAINED` (exit 3): the storage refused to delete `type/name` because it is under
 * retention (S3 Object Lock), until `until` when known. Prune catches it with
 * {@link isRetainedError} and reports the object as retained instead of failing.
 */
export function objectRetained(
  type: FileType,
  name: string,
  where: string,
  until: Date | undefined,
): ShipError {
  const at = until === undefined ? '' : ` until ${until.toISOString()}`;
  return ShipError.runtime(
    BackendErrorCode.retained,
    `Repository object ${type}/${name} at ${where} is retained${at} (S3 Object Lock); it was not deleted.`,
    {
      retryable: false,
      details: {
        type,
        name,
        where,
        ...(until === undefined ? {} : { retainUntil: until.toISOString() }),
      },
      hint: 'it can be deleted once its retention ends; prune leaves it and reports it until then',
    },
  );
}

/** True for a `SHIP_REPO_RETAINED` error; `error.details.retainUntil` is the ISO end, if known. */
export function isRetainedError(error: unknown): error is ShipError {
  return error instanceof ShipError && error.code === BackendErrorCode.retained;
}
