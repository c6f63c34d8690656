import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

import { ExitCode, ShipError, VERSION, isShipError } from '../core/index.js';
import { FileType, type Backend } from './backend/index.js';
import type { ChunkerParams } from './chunker/index.js';
import { CompressPool } from './compress/index.js';
import {
  createKeyFile,
  deriveSubkeys,
  generateMasterKey,
  openKeyFile,
  parseKeyFileText,
  repoCorrupt,
  serializeKeyFile,
  type Password,
  type RepoSubkeys,
  type ScryptParams,
} from './crypto/index.js';
import type { MasterIndex } from './format/index.js';
import {
  configChunkerParams,
  findUnindexedPacks,
  listSnapshots,
  loadMasterIndex,
  newRepositoryConfig,
  readConfig,
  repositoryExists,
  resolveSnapshotRef,
  serializeConfig,
  writeIndexFiles,
  writeSnapshot,
  type ConsistentPoint,
  type IndexFilePack,
  type RepositoryConfig,
  type SnapshotFilter,
  type SnapshotSource,
  type SnapshotManifest,
  type StoredSnapshot,
} from './format/index.js';
import {
  BlobSink,
  BlobSource,
  backupPaths,
  prepareTarget,
  restoreTreeInto,
  type BlobContext,
  type TreeRestoreProgress,
  type TreeRestoreStats,
} from './tree/index.js';

import { checkRepository, type CheckOptions, type CheckReport } from './check.js';
import { repositoryStats, type RepositoryStats } from './stats.js';
import { acquireLock, listLocks, removeStaleLocks, type LockInfo, type LockKind } from './lock.js';
import { markedPacks, prune, type PruneOptions, type PruneResult } from './prune.js';
import { forgetSnapshots, type ForgetRequest, type ForgetResult } from './forget.js';
import { repairIndex, type RepairIndexResult } from './repair.js';
import {
  KeyRole,
  appendOnlyReason,
  appendOnlyRefusal,
  assertCanDelete,
  type AppendOnlyReason,
  type DeleteOperation,
} from './append-only.js';

/** Options for opening a repository handle. */
export interface RepositoryOptions {
  /**
   * Pack size target in bytes. Repositories use 16–64 MiB; smaller values are for tests.
   * @default 32 MiB
   */
  packTargetBytes?: number;
  /** Compression worker threads. @default min(cores, 8) */
  workers?: number;
  /** scrypt cost of key files this handle creates. @default N=2^17, r=8, p=1 */
  kdf?: ScryptParams;
  /**
   * Open for adding only: every delete or rewrite is refused with `SHIP_REPO_APPEND_ONLY`
   * (see append-only.ts). A handle opened with an append-only key is append-only regardless.
   * @default false
   */
  appendOnly?: boolean;
}

/** Options for {@link Repository.init}. */
export interface InitOptions extends RepositoryOptions {
  /** @default 512 KiB / 1 MiB / 8 MiB */
  chunker?: ChunkerParams;
  /** zstd level for new data. @default 3 */
  compressionLevel?: number;
  /** Label of the first key. */
  label?: string;
}

/** What `repo key list` shows of a key file. */
export interface KeyInfo {
  readonly id: string;
  /** This handle was opened with this key. */
  readonly current: boolean;
  readonly created?: string;
  readonly host?: string;
  readonly user?: string;
  readonly label?: string;
  /** `full` or `append-only` (absent in the file = full). */
  readonly role?: KeyRole;
  /** Set when the key file cannot be parsed. */
  readonly problem?: string;
}

/** Metadata of a backup, recorded in the snapshot manifest. */
export interface BackupMeta {
  source: SnapshotSource;
  tags?: string[];
  consistentPoint?: ConsistentPoint;
  toolVersions?: Record<string, string>;
  fingerprints?: Record<string, unknown>;
}

/** Progress of a backup, reported after every chunk. */
export interface BackupProgress {
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  chunks: number;
  newChunks: number;
}

/** The result of a backup. */
export interface BackupResult {
  /** Name of the snapshot under `snapshots/`. */
  snapshotId: string;
  /** Bytes read from the source. */
  bytesRead: number;
  /** Bytes of chunks the repository did not hold yet (before compression). */
  bytesNew: number;
  /** Bytes this backup added to the repository: packs and index files (not the manifest). */
  bytesStored: number;
  chunks: number;
  newChunks: number;
  durationMs: number;
  consistentPoint?: ConsistentPoint;
}

/** Progress of a restore, reported after every chunk written. */
export interface RestoreProgress {
  bytesWritten: number;
  totalBytes: number;
}

/** Options for {@link Repository.restoreStream}. */
export interface RestoreOptions {
  onProgress?: (progress: RestoreProgress) => void;
  /** End `out` when done and wait for it to finish (false for process.stdout). @default true */
  end?: boolean;
}

/**
 * An open backup repository: config, keys, master index, and the stream backup/restore
 * operations. Knows nothing of the state store or data-store kinds.
 *
 * @example
 * const repo = await Repository.open(openFsBackend('/srv/backups/orders'), password);
 * const result = await repo.backupStream(dump, { source: { type: 'stream', name: 'orders' } });
 * await repo.close();
 */
export class Repository {
  readonly backend: Backend;
  readonly config: RepositoryConfig;
  /** The key file that opened this handle. */
  readonly keyId: string;
  /** The role of that key file: `append-only` handles refuse deletes. */
  readonly keyRole: KeyRole;
  readonly #keyLabel: string | undefined;
  readonly #master: Buffer;
  readonly #keys: RepoSubkeys;
  readonly #options: RepositoryOptions;
  #index: MasterIndex | undefined;
  /** Names of the index files `#index` was loaded from (and this handle wrote since). */
  #indexNames = new Set<string>();
  #pool: CompressPool | undefined;
  /**
   * Packs written (durable, and in the in-memory index) whose index files are not written yet.
   * A later backup through this handle may dedup against them, so it writes them first.
   */
  readonly #unindexed: IndexFilePack[] = [];

  private constructor(
    backend: Backend,
    config: RepositoryConfig,
    master: Buffer,
    keyId: string,
    options: RepositoryOptions,
    key: { role?: KeyRole; label?: string } = {},
  ) {
    this.backend = backend;
    this.config = config;
    this.#master = master;
    this.keyId = keyId;
    this.keyRole = key.role ?? KeyRole.full;
    this.#keyLabel = key.label;
    this.#keys = deriveSubkeys(master);
    this.#options = options;
  }

  /**
   * Creates a repository: a random master key, its first key file, then the config (written
   * last and create-only, so a crash leaves no half-made repository that `open` accepts).
   * Throws `SHIP_REPO_EXISTS` (exit 2) when `backend` already holds a config.
   */
  static async init(
    backend: Backend,
    password: Password,
    options: InitOptions = {},
  ): Promise<Repository> {
    if ((await backend.stat(FileType.config, 'config')) !== undefined) {
      throw repositoryExists(backend.location);
    }
    const config = newRepositoryConfig({
      ...(options.chunker === undefined ? {} : { chunker: options.chunker }),
      ...(options.compressionLevel === undefined
        ? {}
        : { compressionLevel: options.compressionLevel }),
    });
    const master = generateMasterKey();
    const { id, file } = await createKeyFile(master, password, {
      ...(options.label === undefined ? {} : { label: options.label }),
      ...(options.kdf === undefined ? {} : { kdf: options.kdf }),
    });
    await backend.put(FileType.keys, id, Buffer.from(serializeKeyFile(file), 'utf8'), {
      ifAbsent: backend.capabilities.conditionalPut,
    });
    try {
      await backend.put(FileType.config, 'config', Buffer.from(serializeConfig(config), 'utf8'), {
        ifAbsent: backend.capabilities.conditionalPut,
      });
    } catch (error) {
      if (isShipError(error) && error.code === 'SHIP_REPO_EXISTS') {
        // Another init won the race: our key file wraps a master key nobody uses.
        if (backend.capabilities.delete) await backend.remove(FileType.keys, id);
        throw repositoryExists(backend.location);
      }
      throw error;
    }
    return new Repository(backend, config, master, id, options);
  }

  /**
   * Opens a repository: reads the config (`SHIP_REPO_NOT_A_REPOSITORY`, exit 2, when there is
   * none; `SHIP_REPO_UNSUPPORTED_VERSION` on an unknown version), then tries the password on
   * every key file. Wrong for all → `SHIP_REPO_WRONG_KEY` (exit 12).
   */
  static async open(
    backend: Backend,
    password: Password,
    options: RepositoryOptions = {},
  ): Promise<Repository> {
    const config = await readConfig(backend);
    let tried = 0;
    let wrong = 0;
    const damaged: ShipError[] = [];
    const triedNames: string[] = [];
    for await (const { name } of backend.list(FileType.keys)) {
      tried++;
      triedNames.push(name);
      try {
        const text = (await backend.get(FileType.keys, name)).toString('utf8');
        const file = parseKeyFileText(text, name);
        const master = await openKeyFile(file, password, { id: name });
        return new Repository(backend, config, master, name, options, {
          ...(file.role === undefined ? {} : { role: file.role }),
          ...(file.label === undefined ? {} : { label: file.label }),
        });
      } catch (error) {
        if (!isShipError(error)) throw error;
        if (error.code === 'SHIP_REPO_WRONG_KEY') wrong++;
        else damaged.push(error);
      }
    }
    if (tried === 0) {
      throw repoCorrupt(`repository ${backend.location}`, 'has a config but no key files', {
        hint: 'restore the keys/ folder from a copy of the repository',
      });
    }
    // No key file could even be tried (all damaged, or of a newer version): say why.
    const [first] = damaged;
    if (wrong === 0 && first !== undefined) throw first;
    throw new ShipError(
      'SHIP_REPO_WRONG_KEY',
      `the password opens none of the ${tried} key file${tried === 1 ? '' : 's'} of ${backend.location}` +
        ` (${namedKeys(triedNames)})` +
        (damaged.length > 0
          ? `; ${damaged.length} could not be read: ${damaged.map((error) => error.message).join('; ')}`
          : ''),
      {
        exitCode: ExitCode.wrongKey,
        details: {
          location: backend.location,
          keyFiles: tried,
          damaged: damaged.map((error) => error.message),
        },
        hint: 'check SHIPSHAPE_REPO_PASSWORD or --password-file; if the password is right, its key file is damaged: open the repository with another key',
      },
    );
  }

  /**
   * Adds a key file wrapping this repository's master key under `password`; returns its id.
   * An append-only handle may add only append-only keys (`SHIP_REPO_APPEND_ONLY` otherwise).
   */
  async addKey(password: Password, label?: string, role: KeyRole = KeyRole.full): Promise<string> {
    // A handle that may not delete must not mint a key that may: only append-only keys.
    const reason = this.appendOnly;
    if (role === KeyRole.full && reason !== undefined && reason.kind !== 'backend') {
      throw appendOnlyRefusal(this.backend.location, 'key add (a full key)', reason);
    }
    const { id, file } = await createKeyFile(this.#master, password, {
      ...(label === undefined ? {} : { label }),
      role,
      ...(this.#options.kdf === undefined ? {} : { kdf: this.#options.kdf }),
    });
    await this.backend.put(FileType.keys, id, Buffer.from(serializeKeyFile(file), 'utf8'), {
      ifAbsent: this.backend.capabilities.conditionalPut,
    });
    return id;
  }

  /** Every key file, oldest first; unreadable ones carry a `problem`. */
  async listKeys(): Promise<KeyInfo[]> {
    const keys: KeyInfo[] = [];
    for await (const { name } of this.backend.list(FileType.keys)) {
      const current = name === this.keyId;
      try {
        const text = (await this.backend.get(FileType.keys, name)).toString('utf8');
        const file = parseKeyFileText(text, name);
        keys.push({
          id: name,
          current,
          created: file.created,
          host: file.host,
          user: file.user,
          ...(file.label === undefined ? {} : { label: file.label }),
          role: file.role ?? KeyRole.full,
        });
      } catch (error) {
        if (!isShipError(error)) throw error;
        keys.push({ id: name, current, problem: error.message });
      }
    }
    return keys.sort((a, b) => (a.created ?? '').localeCompare(b.created ?? ''));
  }

  /**
   * Removes a key file. Refuses the last one (`SHIP_REPO_LAST_KEY`, exit 2), an unknown id
   * (`SHIP_REPO_KEY_NOT_FOUND`, exit 2), and append-only handles (`SHIP_REPO_APPEND_ONLY`).
   */
  async removeKey(id: string): Promise<void> {
    this.assertCanDelete('key remove');
    const names: string[] = [];
    for await (const { name } of this.backend.list(FileType.keys)) names.push(name);
    if (!names.includes(id)) {
      throw ShipError.usage('SHIP_REPO_KEY_NOT_FOUND', `no key ${id} in ${this.backend.location}`, {
        hint: 'list keys with `shipshape repo key list`',
      });
    }
    if (names.length <= 1) {
      throw ShipError.usage(
        'SHIP_REPO_LAST_KEY',
        `key ${id} is the last key of ${this.backend.location}; removing it would make the repository unreadable`,
        { hint: 'add another key first with `shipshape repo key add`' },
      );
    }
    await this.backend.remove(FileType.keys, id);
  }

  /** Snapshots (reading only `snapshots/` with the key), oldest first. */
  snapshots(filter: SnapshotFilter = {}): Promise<StoredSnapshot[]> {
    return listSnapshots(this.backend, this.#keys.encryption, filter);
  }

  /** Resolves `latest` or a unique id prefix (≥ 4 hex) to a snapshot. */
  resolveSnapshot(ref: string, filter: SnapshotFilter = {}): Promise<StoredSnapshot> {
    return resolveSnapshotRef(this.backend, this.#keys.encryption, ref, filter);
  }

  /**
   * Checks the repository's structure (and with `readData`, every byte of its packs); reports
   * every damaged object and the snapshots it affects. Throws only when it cannot run.
   * See check.ts.
   */
  check(options: CheckOptions = {}): Promise<CheckReport> {
    const pool = this.#compressPool();
    return this.#locked('check', () =>
      checkRepository(
        {
          backend: this.backend,
          keys: this.#keys,
          repositoryId: this.config.id,
          decompress: (data, length, what) => pool.decompress(data, length, { what }),
        },
        options,
      ),
    );
  }

  /**
   * Removes snapshot manifests: the ids given, or the snapshots a retention policy does not
   * keep (see retention.ts). Data stays until {@link prune}. Takes the exclusive lock;
   * refused on an append-only handle (`SHIP_REPO_APPEND_ONLY`) unless `dryRun`. See forget.ts.
   */
  async forget(request: ForgetRequest): Promise<ForgetResult> {
    if (request.dryRun !== true) this.assertCanDelete('forget');
    return await this.#locked(
      'forget',
      () => forgetSnapshots({ backend: this.backend, keys: this.#keys }, request),
      request.dryRun === true ? 'shared' : 'exclusive',
    );
  }

  /**
   * Two-phase prune under the exclusive lock: deletes packs an earlier run marked at least
   * `graceMs` ago that are still unused, marks newly unused packs, repacks partly used ones.
   * Refused on an append-only handle (`SHIP_REPO_APPEND_ONLY`) unless `dryRun`. See prune.ts.
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const dryRun = options.dryRun === true;
    if (!dryRun) this.assertCanDelete('prune');
    return await this.#locked(
      'prune',
      async () => {
        try {
          return await prune(
            {
              backend: this.backend,
              keys: this.#keys,
              repositoryId: this.config.id,
              pool: this.#compressPool(),
              packOptions: this.#packOptions(),
            },
            options,
          );
        } finally {
          this.#index = undefined;
        }
      },
      dryRun ? 'shared' : 'exclusive',
    );
  }

  /**
   * Rebuilds the index from every pack's table of contents, writes it, then deletes the old
   * index files. Unreadable packs are reported, never deleted. Exclusive lock; refused on an
   * append-only handle. See repair.ts.
   */
  async repairIndex(): Promise<RepairIndexResult> {
    this.assertCanDelete('repair index');
    return await this.#locked(
      'repair-index',
      async () => {
        try {
          return await repairIndex({ backend: this.backend, keys: this.#keys });
        } finally {
          this.#index = undefined;
        }
      },
      'exclusive',
    );
  }

  /**
   * Finishes a backup whose packs are durable: writes the index files that point into them, then
   * the snapshot manifest (in that order, so a snapshot only references durable data).
   */
  async #commitSnapshot(
    sink: BlobSink,
    meta: BackupMeta,
    content: SnapshotManifest['content'],
    started: number,
  ): Promise<BackupResult> {
    const progress = sink.progress;
    progress.bytesStored += await this.#writePendingIndex();
    const snapshotId = await writeSnapshot(this.backend, this.#keys.encryption, {
      version: 1,
      id: randomBytes(32).toString('hex'),
      time: new Date().toISOString(),
      host: hostname(),
      user: currentUser(),
      source: meta.source,
      ...(meta.consistentPoint === undefined ? {} : { consistentPoint: meta.consistentPoint }),
      sizes: {
        logicalBytes: progress.bytesRead,
        newBytes: progress.bytesNew,
        storedBytes: progress.bytesStored,
        chunks: progress.chunks,
        newChunks: progress.newChunks,
      },
      toolVersions: { shipshape: VERSION, node: process.versions.node, ...meta.toolVersions },
      ...(meta.fingerprints === undefined ? {} : { fingerprints: meta.fingerprints }),
      tags: meta.tags ?? [],
      content,
    });
    return {
      snapshotId,
      bytesRead: progress.bytesRead,
      bytesNew: progress.bytesNew,
      bytesStored: progress.bytesStored,
      chunks: progress.chunks,
      newChunks: progress.newChunks,
      durationMs: performance.now() - started,
      ...(meta.consistentPoint === undefined ? {} : { consistentPoint: meta.consistentPoint }),
    };
  }

  /** Locks in the repository (see lock.ts), with whether each looks stale and why. */
  locks(): Promise<LockInfo[]> {
    return listLocks(this.backend, this.#keys.encryption);
  }

  /**
   * Removes stale locks (expired, or of a dead process on this host); all with `force`, which
   * an append-only handle refuses (`SHIP_REPO_APPEND_ONLY`): it may only clear stale ones.
   */
  async unlock(options: { force?: boolean } = {}): Promise<LockInfo[]> {
    if (options.force === true) this.assertCanDelete('unlock --force');
    return removeStaleLocks(this.backend, this.#keys.encryption, options);
  }

  /**
   * Why this handle may not delete or rewrite (append-only key, option, or a backend without
   * delete), or undefined when it may.
   */
  get appendOnly(): AppendOnlyReason | undefined {
    return appendOnlyReason(this.#deleteGuard());
  }

  /**
   * Throws `SHIP_REPO_APPEND_ONLY` (exit 19) unless this handle may delete: call it first in
   * every operation that removes or rewrites objects (forget, prune, key remove, unlock --force).
   */
  assertCanDelete(operation: DeleteOperation): void {
    assertCanDelete(this.#deleteGuard(), operation);
  }

  #deleteGuard() {
    return {
      backend: this.backend,
      keyId: this.keyId,
      keyRole: this.keyRole,
      appendOnly: this.#options.appendOnly ?? false,
      ...(this.#keyLabel === undefined ? {} : { keyLabel: this.#keyLabel }),
    };
  }

  /**
   * Runs `fn` under a shared lock: backups, restores and checks run side by side, and never
   * while prune holds the exclusive lock. A held or stale lock in the way is an error
   * (`SHIP_REPO_LOCKED` / `SHIP_REPO_LOCK_STALE`, exit 13), never a silent skip.
   */
  async #locked<T>(operation: string, fn: () => Promise<T>, kind: LockKind = 'shared'): Promise<T> {
    const lock = await acquireLock(this.backend, this.#keys.encryption, {
      kind,
      operation,
    });
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  /** Snapshot count, logical / unique / stored bytes and the dedup and compression ratios. */
  stats(): Promise<RepositoryStats> {
    return repositoryStats(this.backend, this.#keys.encryption);
  }

  /**
   * Backs up a byte stream as one snapshot: chunk → id → dedup (index, current pack, in
   * flight) → compress on the pool (bounded window) → seal → pack. At the end it writes the
   * last pack, then the index files, then the snapshot: each step only ever references
   * objects already durable, so a crash leaves at worst unreferenced packs.
   */
  backupStream(
    source: AsyncIterable<Uint8Array>,
    meta: BackupMeta,
    options: { onProgress?: (progress: BackupProgress) => void } = {},
  ): Promise<BackupResult> {
    return this.#locked('backup', () => this.#backupStream(source, meta, options));
  }

  async #backupStream(
    source: AsyncIterable<Uint8Array>,
    meta: BackupMeta,
    options: { onProgress?: (progress: BackupProgress) => void },
  ): Promise<BackupResult> {
    const started = performance.now();
    // The same pipeline as tree backups: chunk → id → dedup → compress + seal on the
    // workers → pack. A stream is one content, always as content lists.
    const sink = new BlobSink(await this.#backupContext(), options.onProgress);
    let lists: string[];
    try {
      const stored = await sink.storeContent(source, { inline: false });
      lists = 'lists' in stored ? stored.lists : [];
      await sink.finish();
    } catch (error) {
      await sink.abort();
      // Index what is already in packs so the work is not lost; the source's error wins.
      await this.#writePendingIndex().catch(() => undefined);
      throw error;
    }
    return this.#commitSnapshot(
      sink,
      meta,
      { type: 'stream', size: sink.progress.bytesRead, lists },
      started,
    );
  }

  /**
   * Restores a stream snapshot (`latest` or an id prefix) into `out`, in order. Every blob is
   * authenticated and every chunk's id recomputed before its bytes are written; a mismatch, a
   * missing blob or a short result aborts with `SHIP_REPO_CORRUPT` naming the snapshot and the
   * chunk, and no wrong byte is written. Reads ahead a bounded window of chunks.
   */
  restoreStream(
    snapshotRef: string,
    out: Writable,
    options: RestoreOptions = {},
  ): Promise<{ snapshotId: string; bytesWritten: number }> {
    return this.#locked('restore', () => this.#restoreStream(snapshotRef, out, options));
  }

  async #restoreStream(
    snapshotRef: string,
    out: Writable,
    options: RestoreOptions,
  ): Promise<{ snapshotId: string; bytesWritten: number }> {
    const snapshot = await this.resolveSnapshot(snapshotRef);
    const content = snapshot.manifest.content;
    if (content.type !== 'stream') {
      throw ShipError.usage(
        'SHIP_REPO_NOT_A_STREAM',
        `snapshot ${snapshot.id} holds a directory tree, not a stream`,
        { hint: 'restore it into a directory with `repo restore --target DIR`' },
      );
    }
    const source = new BlobSource(await this.#blobContext());
    let bytesWritten = 0;
    for await (const data of source.chunks({ lists: content.lists }, `snapshot ${snapshot.id}`)) {
      if (bytesWritten + data.length > content.size) {
        throw repoCorrupt(`snapshot ${snapshot.id}`, `content is longer than ${content.size}`);
      }
      if (!out.write(data)) await waitDrain(out);
      bytesWritten += data.length;
      options.onProgress?.({ bytesWritten, totalBytes: content.size });
    }
    if (bytesWritten !== content.size) {
      throw repoCorrupt(
        `snapshot ${snapshot.id}`,
        `content is ${bytesWritten} bytes, the manifest says ${content.size}`,
      );
    }
    if (options.end ?? true) {
      out.end();
      await finished(out);
    }
    return { snapshotId: snapshot.id, bytesWritten };
  }

  /**
   * Backs up files, directories and symlinks as one tree snapshot (`content: { type: 'tree',
   * root }`): walks depth first, streaming each file through the same chunk → dedup →
   * compress → seal → pack pipeline as {@link backupStream}, then stores one tree blob per
   * directory. The root tree holds one entry per path, named by its basename. A path that
   * cannot be read fails the backup (`SHIP_REPO_SOURCE_UNREADABLE`, exit 3) and no snapshot
   * is written. Same write order (packs, index files, manifest) as `backupStream`.
   */
  backupTree(
    paths: readonly string[],
    meta: BackupMeta,
    options: { onProgress?: (progress: BackupProgress) => void } = {},
  ): Promise<BackupResult> {
    return this.#locked('backup', () => this.#backupTree(paths, meta, options));
  }

  async #backupTree(
    paths: readonly string[],
    meta: BackupMeta,
    options: { onProgress?: (progress: BackupProgress) => void },
  ): Promise<BackupResult> {
    const started = performance.now();
    const sink = new BlobSink(await this.#backupContext(), options.onProgress);
    let root: string;
    try {
      root = await backupPaths(sink, paths);
      await sink.finish();
    } catch (error) {
      await sink.abort();
      // Index what is already in packs so the work is not lost; the walk's error wins.
      await this.#writePendingIndex().catch(() => undefined);
      throw error;
    }
    return this.#commitSnapshot(sink, meta, { type: 'tree', root }, started);
  }

  /**
   * Restores a tree snapshot (`latest` or an id prefix) into `targetDir` (created when
   * missing). Refuses a non-empty target unless `force` (`SHIP_REPO_TARGET_NOT_EMPTY`, exit 2)
   * and a stream snapshot (`SHIP_REPO_NOT_A_TREE`, exit 2). Every chunk is verified before it
   * is written; damage aborts with `SHIP_REPO_CORRUPT` (exit 11).
   */
  restoreTree(
    snapshotRef: string,
    targetDir: string,
    options: { force?: boolean; onProgress?: (progress: TreeRestoreProgress) => void } = {},
  ): Promise<TreeRestoreStats & { snapshotId: string }> {
    return this.#locked('restore', () => this.#restoreTree(snapshotRef, targetDir, options));
  }

  async #restoreTree(
    snapshotRef: string,
    targetDir: string,
    options: { force?: boolean; onProgress?: (progress: TreeRestoreProgress) => void },
  ): Promise<TreeRestoreStats & { snapshotId: string }> {
    const snapshot = await this.resolveSnapshot(snapshotRef);
    const content = snapshot.manifest.content;
    if (content.type !== 'tree') {
      throw ShipError.usage(
        'SHIP_REPO_NOT_A_TREE',
        `snapshot ${snapshot.id} holds a byte stream, not a directory tree`,
        { hint: 'restore it with `repo restore SNAPSHOT --stdout > FILE`' },
      );
    }
    await prepareTarget(targetDir, options.force ?? false);
    const stats = await restoreTreeInto(
      new BlobSource(await this.#blobContext()),
      content.root,
      targetDir,
      {
        where: `snapshot ${snapshot.id}`,
        totalBytes: snapshot.manifest.sizes.logicalBytes,
        onProgress: options.onProgress,
      },
    );
    return { snapshotId: snapshot.id, ...stats };
  }

  async #blobContext(): Promise<BlobContext> {
    return {
      backend: this.backend,
      keys: this.#keys,
      index: await this.#loadIndex(),
      pool: this.#compressPool(),
      chunker: configChunkerParams(this.config),
      packOptions: this.#packOptions(),
      onPackWritten: (pack) => {
        this.#unindexed.push(pack);
      },
    };
  }

  /**
   * The blob context of a backup. Packs that no index file lists (a backup that crashed after
   * writing them, before its index files) are indexed from their tables of contents first, so
   * their blobs are reused rather than stored again; this backup's index files list them.
   * Packs prune has marked for deletion are left out.
   */
  async #backupContext(): Promise<BlobContext> {
    const ctx = await this.#blobContext();
    const pending = new Set(this.#unindexed.map((pack) => pack.pack));
    // Packs prune has marked are garbage on their way out: re-indexing them would undo the mark.
    const marked = await markedPacks({
      backend: this.backend,
      keys: this.#keys,
      repositoryId: this.config.id,
    });
    const found = await findUnindexedPacks(
      this.backend,
      this.#keys.encryption,
      ctx.index,
      (pack) => pending.has(pack) || marked.has(pack),
    );
    for (const pack of found) {
      for (const entry of pack.entries) ctx.index.add(pack.pack, entry);
      this.#unindexed.push(pack);
    }
    return ctx;
  }

  /** Stops the compression workers. The backend stays open (the caller owns it). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }

  /** Writes index files for packs not indexed yet; returns the bytes written. */
  async #writePendingIndex(): Promise<number> {
    const pending = this.#unindexed.splice(0);
    try {
      const written = await writeIndexFiles(this.backend, this.#keys.encryption, pending);
      for (const name of written.names) this.#indexNames.add(name);
      return written.bytes;
    } catch (error) {
      this.#unindexed.unshift(...pending);
      throw error;
    }
  }

  #packOptions(): { targetBytes?: number } {
    const target = this.#options.packTargetBytes;
    return target === undefined ? {} : { targetBytes: target };
  }

  /**
   * The master index, reloaded whenever the set of index files in the backend differs from
   * the set it was loaded from (one listing): after another process's prune or index repair,
   * a long-lived handle must not dedup against packs that are gone. Packs this handle wrote
   * but has not indexed yet are kept if they still exist.
   */
  async #loadIndex(): Promise<MasterIndex> {
    const names = new Set<string>();
    for await (const { name } of this.backend.list(FileType.index)) names.add(name);
    let same =
      names.size === this.#indexNames.size && [...names].every((n) => this.#indexNames.has(n));
    // Packs this handle wrote but could not index are in no index file: a prune may have
    // marked and deleted them without changing the index files, so check they still exist.
    for (const pack of same ? this.#unindexed : []) {
      if ((await this.backend.stat(FileType.data, pack.pack)) === undefined) same = false;
    }
    if (this.#index !== undefined && same) return this.#index;
    const index = await loadMasterIndex(this.backend, this.#keys.encryption);
    const pending = this.#unindexed.splice(0);
    for (const pack of pending) {
      if ((await this.backend.stat(FileType.data, pack.pack)) === undefined) continue;
      for (const entry of pack.entries) index.add(pack.pack, entry);
      this.#unindexed.push(pack);
    }
    this.#index = index;
    this.#indexNames = names;
    return index;
  }

  #compressPool(): CompressPool {
    this.#pool ??= new CompressPool({
      level: this.config.compression.level,
      sealKeys: { encryption: this.#keys.encryption, chunkId: this.#keys.chunkId },
      ...(this.#options.workers === undefined ? {} : { workers: this.#options.workers }),
    });
    return this.#pool;
  }
}

function waitDrain(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    // Already gone (e.g. a child's stdin after the child exited): no event will ever come.
    if (out.destroyed || out.closed) {
      reject(out.errored ?? new Error('the output stream closed before the restore finished'));
      return;
    }
    const done = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('error', done);
      out.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => {
      done();
    };
    const onClose = () => {
      done(new Error('the output stream closed before the restore finished'));
    };
    out.on('drain', onDrain);
    out.on('error', done);
    out.on('close', onClose);
  });
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Names key files in a message: `keys/<first 12 hex>…`, at most five, then a count. */
function namedKeys(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((name) => `keys/${name.slice(0, 12)}…`);
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
