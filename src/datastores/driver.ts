import type { Writable } from 'node:stream';

import type {
  BackupMeta,
  BackupProgress,
  BackupResult,
  ConsistentPoint,
  StoredSnapshot,
} from '../repo/index.js';
import type { DatastoreKind, FingerprintMode } from '../spec/index.js';

import type { Fingerprint } from './fingerprint.js';

/** A data store to back up, restore into or fingerprint: its spec entry, resolved. */
export interface Target {
  /** Name of the data store in the spec (`orders`), or a label for an ad-hoc target. */
  readonly name: string;
  /**
   * Resolved connection: a URL or DSN (postgres), a file path (sqlite), a directory (files),
   * an opaque string handed to the commands (command). May hold a password; drivers never put
   * it on a command line.
   */
  readonly connection: string;
  /** Environment the connection belongs to (passed to `command` stores). */
  readonly environment?: string;
  /** The `command` section of a `command` store. */
  readonly command?: CommandSpec;
}

/** User-given shell commands of a `command` data store. */
export interface CommandSpec {
  /** Writes the backup to standard output. */
  readonly backup: string;
  /** Reads a backup from standard input. */
  readonly restore: string;
  /** Prints a fingerprint of the data (one string). */
  readonly fingerprint?: string;
}

/** An external program a driver runs, and where it comes from. */
export interface ToolRequirement {
  /** Executable name (`pg_dump`). */
  readonly name: string;
  /** Debian/Ubuntu package that installs it. */
  readonly debian: string;
  /** Homebrew formula that installs it. */
  readonly homebrew: string;
}

/**
 * Who the data lives on: a value that changes when the server or file is replaced by another
 * (PostgreSQL `system_identifier`, a file's device and inode).
 */
export interface ServerIdentity {
  /** What `id` is: `postgres-system-identifier`, `file`, `command`. */
  readonly kind: string;
  readonly id: string;
  /** Server version or similar, for evidence. */
  readonly version?: string;
  /** Human-readable location without secrets (host:port/db, a path). */
  readonly location: string;
}

/** Where a driver writes a backup: a repository, already bound to the data store's name. */
export interface BackupSink {
  /** Stores a byte stream as one snapshot; throws (and writes no snapshot) if `source` throws. */
  stream(source: AsyncIterable<Uint8Array>, meta: DriverBackupMeta): Promise<BackupResult>;
  /** Stores files and directories as one tree snapshot. */
  tree(paths: readonly string[], meta: DriverBackupMeta): Promise<BackupResult>;
}

/** What a driver adds to a snapshot manifest (the sink adds the source name and tags). */
export type DriverBackupMeta = Pick<
  BackupMeta,
  'consistentPoint' | 'toolVersions' | 'fingerprints'
>;

/** Options of {@link Driver.backup}. */
export interface BackupOptions {
  /** Fingerprint recorded in the manifest. @default 'counts' */
  fingerprint?: FingerprintMode;
  onProgress?: (progress: BackupProgress) => void;
  /**
   * Called once the consistent point is fixed and before the data is read. Tests use it to
   * let a writer commit rows after the point; the backup must not contain them.
   */
  onConsistentPoint?: (point: ConsistentPoint) => Promise<void>;
}

/** What a backup produced. */
export interface BackupOutcome {
  readonly snapshot: BackupResult;
  /** The moment the backup's data is consistent as of, on the source's clock where it has one. */
  readonly consistentPoint: ConsistentPoint;
  readonly identity: ServerIdentity;
  /** Fingerprint at the consistent point; undefined with `fingerprint: off`. */
  readonly fingerprint: Fingerprint | undefined;
  readonly toolVersions: Record<string, string>;
}

/** A snapshot to restore from: its manifest and the two ways to read it. */
export interface SnapshotReader {
  readonly snapshot: StoredSnapshot;
  /** Writes a stream snapshot to `out` (and ends it). */
  stream(out: Writable): Promise<void>;
  /** Restores a tree snapshot into `dir` (which must be empty unless `force`). */
  tree(dir: string, options: { force: boolean }): Promise<void>;
}

/** Options of {@link Driver.restore}. */
export interface RestoreOptions {
  /** Restore over existing data. Without it a non-empty target is refused. */
  force?: boolean;
  /** Parallel jobs where the tool supports them (`pg_restore -j`). @default 2 */
  jobs?: number;
}

/** Options of {@link Driver.sandbox}. */
export interface SandboxOptions {
  /** Directory under which the sandbox keeps its data. @default os.tmpdir() */
  baseDir?: string;
  jobs?: number;
}

/** How to reach and remove a sandbox left running by {@link Sandbox.keep} (`drill run --keep`). */
export interface KeptSandbox {
  /**
   * How to connect, without a password: a URL over a socket in the sandbox's own directory
   * (PostgreSQL, MariaDB, Redis) or a path (sqlite, files).
   */
  readonly connection: string;
  /** A shell command that stops the instance and deletes its data (`pg_ctl … stop && rm -rf …`). */
  readonly stop: string;
  /** Process id of the server, where there is one. */
  readonly pid?: number;
  /** The directory holding everything of the sandbox; `stop` removes it. */
  readonly dataDir: string;
}

/** A throwaway instance holding restored data, on loopback, removed by `stop()`. */
export interface Sandbox {
  /** A {@link Target} for the sandbox: fingerprint it, point a service at it. */
  readonly target: Target;
  /** Stops the instance and deletes its data. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Leaves the instance running after this process exits (instead of `stop()`): detaches its
   * server, opens password-less access over a socket only its owner can reach, and says how to
   * connect and how to stop it. `stop()` does nothing afterwards.
   */
  keep(): Promise<KeptSandbox>;
}

/**
 * A data-store driver: one per kind, stateless, registered in `DRIVERS`. Every method takes the
 * target explicitly; nothing is cached between calls.
 */
export interface Driver {
  readonly kind: DatastoreKind;
  /** External programs the driver runs (for `doctor`-style checks and error messages). */
  tools(): readonly ToolRequirement[];
  /** Who holds the data now. */
  identity(target: Target): Promise<ServerIdentity>;
  /** Backs the target up into `sink`: one snapshot, or an error and no snapshot. */
  backup(target: Target, sink: BackupSink, options?: BackupOptions): Promise<BackupOutcome>;
  /** Restores a snapshot into `target`; refuses a non-empty target unless `force`. */
  restore(from: SnapshotReader, target: Target, options?: RestoreOptions): Promise<void>;
  /** Fingerprint of the target's current data. */
  fingerprint(target: Target, mode: Exclude<FingerprintMode, 'off'>): Promise<Fingerprint>;
  /** Starts a throwaway instance on a free loopback port holding the snapshot's data. */
  sandbox(from: SnapshotReader, options?: SandboxOptions): Promise<Sandbox>;
}
