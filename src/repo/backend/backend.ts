/**
 * The storage interface under the repository: named, immutable-by-convention objects grouped by
 * file type. A backend knows nothing of blobs, packs or encryption; it moves bytes. Every
 * backend runs the same conformance suite (test/repo/backend-conformance.ts).
 */

/** The kinds of object a repository stores; each is a folder (or key prefix) of its own. */
export const FileType = {
  /** The single repository config object, always named `config`. */
  config: 'config',
  /** Key files (the master key wrapped under a password). */
  keys: 'keys',
  /** Pack files. */
  data: 'data',
  /** Index files. */
  index: 'index',
  /** Snapshot manifests. */
  snapshots: 'snapshots',
  /** Lock files. */
  locks: 'locks',
  /** Prune's marks: packs waiting out the grace period before deletion (see prune.ts). */
  marks: 'marks',
} as const;

export type FileType = (typeof FileType)[keyof typeof FileType];

/** All file types, in layout order. */
export const FILE_TYPES: readonly FileType[] = Object.freeze(Object.values(FileType));

/**
 * What a backend guarantees, and what the repository relies on each guarantee for. A backend
 * declares each as true or false; the repository checks the declaration, never assumes.
 */
export const BackendCapability = {
  atomicCreate: {
    guarantee:
      'a put is all-or-nothing: readers and list see no object or the whole of it, never a prefix, even after a crash mid-put',
    reliedOnFor:
      'trusting that a pack, index or snapshot it can see is complete; without it every read must expect a truncated object, and check reports them',
  },
  conditionalPut: {
    guarantee:
      'a put with ifAbsent creates the object only if the name is free, atomically against concurrent writers, and fails with SHIP_REPO_EXISTS otherwise',
    reliedOnFor:
      'exclusive locks and creating the config exactly once at init; without it, locks fall back to write-then-list with a race window',
  },
  delete: {
    guarantee: 'remove deletes an object',
    reliedOnFor:
      'releasing locks, removing keys and prune; without it the repository is append-only and refuses prune and key removal',
  },
  listAfterWrite: {
    guarantee:
      'an object is listed as soon as its put has returned, and no longer listed once its remove has returned',
    reliedOnFor:
      'listing locks before acting, and check or index rebuild listing packs; without it those must wait and re-list',
  },
} as const satisfies Record<string, { guarantee: string; reliedOnFor: string }>;

export type BackendCapabilityName = keyof typeof BackendCapability;

/** The declared capability list of a backend. */
export type BackendCapabilities = { readonly [K in BackendCapabilityName]: boolean };

/** All capability names. */
export const BACKEND_CAPABILITY_NAMES = Object.freeze(
  Object.keys(BackendCapability),
) as readonly BackendCapabilityName[];

/** A byte range of an object: `length` bytes from `offset` (to the end when length is omitted). */
export interface ByteRange {
  readonly offset: number;
  readonly length?: number;
}

export interface PutOptions {
  /**
   * Create only: fail with `SHIP_REPO_EXISTS` if an object of this name exists (needs the
   * `conditionalPut` capability). Without it, put replaces an existing object.
   * @default false
   */
  readonly ifAbsent?: boolean;
}

/** One listed object. */
export interface ObjectInfo {
  readonly name: string;
  readonly size: number;
}

/**
 * A repository backend. Names are checked with `checkObjectName` (no path separators, no
 * leading dot, data names start with two lowercase hex digits); a bad name is refused before any
 * I/O with `SHIP_REPO_BAD_NAME`.
 *
 * Errors: `SHIP_REPO_NOT_FOUND` (exit 11) when `get` finds no object; `SHIP_REPO_EXISTS` on an
 * `ifAbsent` conflict; `SHIP_REPO_CORRUPT` (exit 11) when a range reaches past the end of the
 * object; `SHIP_REPO_IO` (exit 3) for any other I/O failure, naming the path or URL.
 */
export interface Backend {
  /** Where the repository lives, for messages (`/srv/backups/repo`, `s3://bucket/prefix`). */
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  /**
   * Stores an object. A stream source is consumed chunk by chunk: the backend does not hold a
   * chunk after asking for the next, so a source may reuse its buffer. If the source throws,
   * nothing becomes visible and the source's error propagates unchanged.
   */
  put(
    type: FileType,
    name: string,
    data: Buffer | AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<void>;
  /** Reads an object, or the given range of it (exactly `length` bytes). */
  get(type: FileType, name: string, range?: ByteRange): Promise<Buffer>;
  /** The object's size, or undefined when there is none. */
  stat(type: FileType, name: string): Promise<{ size: number } | undefined>;
  /** Every object of a type, in no particular order. Incomplete uploads are never listed. */
  list(type: FileType): AsyncIterable<ObjectInfo>;
  /** Deletes an object; removing a missing object is not an error (needs `delete`). */
  remove(type: FileType, name: string): Promise<void>;
  /** Releases resources. The backend is not used afterwards. */
  close(): Promise<void>;
}
