/**
 * Append-only repositories: handles that may add snapshots but never delete or rewrite what is
 * stored. Two layers, documented in docs/repository-format.md "Append-only repositories":
 *
 * 1. In shipshape (this file): a key file's `role` (`append-only`), the `appendOnly` option
 *    (`--append-only`, spec `append_only: true`), or a backend without `delete` make a handle
 *    refuse every delete or rewrite (forget, prune, key remove, unlock --force) with
 *    `SHIP_REPO_APPEND_ONLY` before it touches anything. The {@link AppendOnlyBackend} wrapper
 *    refuses removes below the repository too, except of lock files (a writer must be able to
 *    release its own locks). This guards against mistakes and misconfigured automation only:
 *    whoever holds an append-only key can decrypt the master key and write a full key file.
 * 2. In the storage: credentials that cannot delete (an IAM policy without s3:DeleteObject
 *    outside `locks/`, Object Lock; a separate owner of the directories on a local disk). This
 *    is what protects the backups from a compromised backup host.
 */
import { ExitCode, ShipError } from '../core/index.js';
import {
  FileType,
  type Backend,
  type BackendCapabilities,
  type ByteRange,
  type ObjectInfo,
  type PutOptions,
} from './backend/index.js';

/** What a key may do: everything (`full`, the default) or only add (`append-only`). */
export const KeyRole = {
  full: 'full',
  appendOnly: 'append-only',
} as const;

export type KeyRole = (typeof KeyRole)[keyof typeof KeyRole];

/** All key roles. */
export const KEY_ROLES: readonly KeyRole[] = Object.freeze(Object.values(KeyRole));

/** Stable error code of refused deletes (retained objects: `BackendErrorCode.retained`). */
export const AppendOnlyErrorCode = {
  /** A delete or rewrite was refused: append-only key, option or backend (exit 19). */
  appendOnly: 'SHIP_REPO_APPEND_ONLY',
} as const;

/** The operations that delete or rewrite stored objects; named in the refusal. */
export type DeleteOperation =
  'forget' | 'prune' | 'key remove' | 'unlock --force' | 'unlock' | (string & {});

/** Why a handle may not delete. */
export type AppendOnlyReason =
  | { readonly kind: 'key'; readonly keyId: string; readonly label?: string }
  | { readonly kind: 'option' }
  | { readonly kind: 'backend' };

/** What {@link assertCanDelete} looks at. */
export interface DeleteGuard {
  readonly backend: Backend;
  /** The key file that opened the handle. */
  readonly keyId: string;
  readonly keyLabel?: string;
  /** @default 'full' */
  readonly keyRole?: KeyRole;
  /** Opened with `--append-only` / `append_only: true`. @default false */
  readonly appendOnly?: boolean;
}

/** Why this handle is append-only, or undefined when it may delete. */
export function appendOnlyReason(guard: DeleteGuard): AppendOnlyReason | undefined {
  if (guard.keyRole === KeyRole.appendOnly) {
    return {
      kind: 'key',
      keyId: guard.keyId,
      ...(guard.keyLabel === undefined ? {} : { label: guard.keyLabel }),
    };
  }
  if (guard.appendOnly === true || isAppendOnlyBackend(guard.backend)) return { kind: 'option' };
  if (!guard.backend.capabilities.delete) return { kind: 'backend' };
  return undefined;
}

/**
 * Throws `SHIP_REPO_APPEND_ONLY` (exit 19) when the handle may not delete or rewrite: opened
 * with an append-only key, with the append-only option, or on a backend without `delete`.
 * Every operation that removes objects (forget, prune, key remove, unlock --force of other
 * holders' locks) calls this first, before it reads or writes anything.
 *
 * @example
 * repository.assertCanDelete('prune');
 */
export function assertCanDelete(guard: DeleteGuard, operation: DeleteOperation): void {
  const reason = appendOnlyReason(guard);
  if (reason !== undefined) throw appendOnlyRefusal(guard.backend.location, operation, reason);
}

/** The `SHIP_REPO_APPEND_ONLY` error for `operation` on `location`. */
export function appendOnlyRefusal(
  location: string,
  operation: DeleteOperation,
  reason: AppendOnlyReason,
): ShipError {
  const why =
    reason.kind === 'key'
      ? `it was opened with key ${reason.keyId.slice(0, 12)}${reason.label === undefined ? '' : ` (${reason.label})`}, an append-only key`
      : reason.kind === 'option'
        ? 'it was opened append-only (--append-only, or append_only: true in the spec)'
        : 'its storage backend does not support deleting objects';
  const hint =
    reason.kind === 'key'
      ? `run \`${operation}\` with a full key (its password, e.g. --password-file FILE) from a trusted host; append-only keys can only add snapshots`
      : reason.kind === 'option'
        ? `run \`${operation}\` without --append-only (and with credentials allowed to delete) from a trusted host`
        : `run \`${operation}\` against a backend and credentials that may delete objects`;
  return new ShipError(
    AppendOnlyErrorCode.appendOnly,
    `refusing ${operation} on ${location}: ${why}, so it cannot delete or rewrite anything`,
    {
      exitCode: ExitCode.forbidden,
      retryable: false,
      details: {
        location,
        operation,
        reason: reason.kind,
        ...(reason.kind === 'key' ? { keyId: reason.keyId } : {}),
      },
      hint,
    },
  );
}

/**
 * A backend seen through append-only credentials: reads, lists and puts pass through; `remove`
 * is refused (`SHIP_REPO_APPEND_ONLY`) for everything but lock files, which their holder must
 * be able to release. Overwrites are not checked here (a put to an existing name): the
 * repository only ever writes new, content-named objects outside `locks/`, and storage-level
 * enforcement (Object Lock, versioning, directory ownership) is what stops an attacker.
 */
export class AppendOnlyBackend implements Backend {
  readonly inner: Backend;
  readonly location: string;
  readonly capabilities: BackendCapabilities;

  constructor(inner: Backend) {
    this.inner = inner;
    this.location = inner.location;
    this.capabilities = inner.capabilities;
  }

  put(
    type: FileType,
    name: string,
    data: Buffer | AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<void> {
    return this.inner.put(type, name, data, options);
  }

  get(type: FileType, name: string, range?: ByteRange): Promise<Buffer> {
    return this.inner.get(type, name, range);
  }

  stat(type: FileType, name: string): Promise<{ size: number } | undefined> {
    return this.inner.stat(type, name);
  }

  list(type: FileType): AsyncIterable<ObjectInfo> {
    return this.inner.list(type);
  }

  async remove(type: FileType, name: string): Promise<void> {
    if (type !== FileType.locks) {
      throw appendOnlyRefusal(this.location, `remove ${type}/${name}`, { kind: 'option' });
    }
    await this.inner.remove(type, name);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Wraps `backend` so it refuses removes outside `locks/` (idempotent). */
export function appendOnlyBackend(backend: Backend): Backend {
  return isAppendOnlyBackend(backend) ? backend : new AppendOnlyBackend(backend);
}

/** True for a backend wrapped by {@link appendOnlyBackend}. */
export function isAppendOnlyBackend(backend: Backend): backend is AppendOnlyBackend {
  return backend instanceof AppendOnlyBackend;
}

/** Re-exported for prune and forget: a delete refused by retention (`SHIP_REPO_RETAINED`). */
export { isRetainedError } from './backend/index.js';
