/**
 * Repository locks: sealed lock objects under `locks/`, shared (backup, restore, check) or
 * exclusive (prune). Acquiring writes the own lock first and lists afterwards (restic's
 * approach), so it needs no `conditionalPut`; docs/repository-format.md ("Locks") gives the
 * rules, the tie-break between racing lockers, and how stale and unreadable locks are treated.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';

import { z } from 'zod';

import { ExitCode, ShipError, failpoint, isShipError, isSimulatedCrash } from '../core/index.js';

import { BackendErrorCode, FileType, type Backend } from './backend/index.js';
import { openBlob, sealBlob, type BlobType } from './crypto/index.js';

/** Lock kinds: shared locks coexist; an exclusive lock coexists with no other lock. */
export const LockKind = {
  shared: 'shared',
  exclusive: 'exclusive',
} as const;

export type LockKind = (typeof LockKind)[keyof typeof LockKind];

/** Stable error codes of the lock module (all exit 13, `ExitCode.lockHeld`, except `lost`). */
export const LockErrorCode = {
  locked: 'SHIP_REPO_LOCKED',
  stale: 'SHIP_REPO_LOCK_STALE',
  lost: 'SHIP_REPO_LOCK_LOST',
  unsupported: 'SHIP_REPO_LOCK_UNSUPPORTED',
} as const;

/** Default lifetime of a lock without refresh: 30 minutes. */
export const DEFAULT_LOCK_TTL_MS = 30 * 60 * 1000;

/**
 * Blob type the lock payload is sealed as. No lock type exists in the v1 blob header, and the
 * snapshot type is the closest (a small JSON document of its own folder); the payload's `format`
 * field tells a lock from a snapshot, so a snapshot copied into `locks/` is refused as not a lock.
 */
export const LOCK_BLOB_TYPE: BlobType = 'snapshot';

/** Listings an acquire repeats before it trusts that an unreadable lock is not mid-write. */
const UNREADABLE_RELISTS = 3;

/** Value of the payload's `format` field. */
export const LOCK_FORMAT = 'shipshape-lock/v1';

const lockRecordSchema = z.strictObject({
  format: z.literal(LOCK_FORMAT),
  id: z.string().regex(/^[0-9a-f]{64}$/),
  kind: z.enum([LockKind.shared, LockKind.exclusive]),
  operation: z.string().min(1).max(64),
  holder: z.string().max(256),
  host: z.string().max(256),
  pid: z.number().int().positive(),
  created: z.iso.datetime(),
  refreshed: z.iso.datetime(),
  expires: z.iso.datetime(),
  /**
   * False while the locker is still checking for conflicts, true once it has seen none and
   * holds the lock: a racer waits only for pending lockers, never for a holder.
   */
  held: z.boolean(),
});

/** The sealed content of a lock object. Times are ISO 8601 UTC. */
export type LockRecord = z.infer<typeof lockRecordSchema>;

/** Why a lock is considered stale. */
export type StaleReason = 'expired' | 'dead-pid' | 'unreadable';

/** A lock read and authenticated from the repository. */
export interface ReadableLockInfo extends Omit<LockRecord, 'format'> {
  readonly readable: true;
  /** Milliseconds since `created`. */
  readonly ageMs: number;
  readonly stale: boolean;
  /** Set when `stale`. */
  readonly staleReason?: StaleReason;
  /** Why it is stale, in words: `expired 12m ago`, `pid 4242 is not running on db1`. */
  readonly staleDetail?: string;
}

/**
 * A lock object that failed authentication or does not parse: never trusted, always stale
 * (reason `unreadable`), and it blocks every acquire until removed (see the format doc).
 */
export interface UnreadableLockInfo {
  readonly readable: false;
  readonly id: string;
  readonly stale: true;
  readonly staleReason: 'unreadable';
  readonly staleDetail: string;
}

export type LockInfo = ReadableLockInfo | UnreadableLockInfo;

/** How the module judges staleness; every field is injectable for tests. */
export interface LockEnvironment {
  /** Clock. @default () => new Date() */
  readonly now?: () => Date;
  /** `process.kill(pid, 0)` semantics: true unless the pid does not exist (ESRCH). */
  readonly isPidAlive?: (pid: number) => boolean;
  /** This machine's name, compared with a lock's `host` to decide whether its pid is checkable. */
  readonly host?: string;
}

export interface AcquireLockOptions extends LockEnvironment {
  readonly kind: LockKind;
  /** What the lock is for: `backup`, `restore`, `check`, `prune`… */
  readonly operation: string;
  /** Lifetime without refresh; refreshed every `ttlMs / 3` while held. @default 30 min */
  readonly ttlMs?: number;
  /** Recorded holder. @default the OS user name */
  readonly holder?: string;
  /** Recorded pid. @default process.pid */
  readonly pid?: number;
  /**
   * How long the older of two conflicting racers waits for the younger to withdraw before it
   * gives up with `SHIP_REPO_LOCKED`. @default 10 s
   */
  readonly raceWaitMs?: number;
}

export interface RemoveStaleLocksOptions extends LockEnvironment {
  /** Remove every lock, live ones too (`repo unlock --force`). @default false */
  readonly force?: boolean;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly id: string;
  readonly kind: LockKind;
  readonly operation: string;
  /** The record as last written. */
  readonly record: LockRecord;
  /** The error of the last failed automatic refresh (e.g. the lock was removed by force). */
  readonly refreshError: ShipError | undefined;
  /** Rewrites the lock with `refreshed = now`, `expires = now + ttl`. Throws `SHIP_REPO_LOCK_LOST` if it is gone. */
  refresh(): Promise<void>;
  /** Stops the refresh timer and removes the lock object. Idempotent. */
  release(): Promise<void>;
}

const defaultIsPidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return !(isErrno(error) && error.code === 'ESRCH');
  }
};

function isErrno(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}

interface ResolvedEnv {
  now: () => Date;
  isPidAlive: (pid: number) => boolean;
  host: string;
}

function resolveEnv(env: LockEnvironment): ResolvedEnv {
  return {
    now: env.now ?? (() => new Date()),
    isPidAlive: env.isPidAlive ?? defaultIsPidAlive,
    host: env.host ?? hostname(),
  };
}

function sealLock(key: Uint8Array, record: LockRecord): Buffer {
  return sealBlob(
    key,
    { type: LOCK_BLOB_TYPE, compressed: false },
    Buffer.from(JSON.stringify(record), 'utf8'),
  );
}

/** Reads one lock; undefined when it vanished between list and get (released meanwhile). */
async function readLock(
  backend: Backend,
  key: Uint8Array,
  id: string,
  env: ResolvedEnv,
): Promise<LockInfo | undefined> {
  let bytes: Buffer;
  try {
    bytes = await backend.get(FileType.locks, id);
  } catch (error) {
    if (isShipError(error) && error.code === BackendErrorCode.notFound) return undefined;
    throw error;
  }
  let record: LockRecord;
  try {
    const { plaintext } = openBlob(key, bytes, LOCK_BLOB_TYPE, { what: `lock ${id}` });
    record = lockRecordSchema.parse(JSON.parse(plaintext.toString('utf8')));
    if (record.id !== id) throw new Error(`it names itself ${record.id}`);
  } catch (error) {
    const problem =
      error instanceof z.ZodError
        ? `not a lock: ${error.issues.map((issue) => `${issue.path.join('.') || 'payload'} ${issue.message}`).join('; ')}`
        : error instanceof Error
          ? error.message
          : String(error);
    return {
      readable: false,
      id,
      stale: true,
      staleReason: 'unreadable',
      staleDetail: `lock ${id} cannot be trusted (${firstLine(problem)})`,
    };
  }
  return judge(record, env);
}

function judge(record: LockRecord, env: ResolvedEnv): ReadableLockInfo {
  const fields: Omit<LockRecord, 'format'> & { format?: string } = { ...record };
  delete fields.format;
  const now = env.now().getTime();
  const ageMs = now - Date.parse(record.created);
  const expiresIn = Date.parse(record.expires) - now;
  let staleReason: StaleReason | undefined;
  let staleDetail: string | undefined;
  if (expiresIn < 0) {
    staleReason = 'expired';
    staleDetail = `expired ${formatDuration(-expiresIn)} ago`;
  } else if (record.host === env.host && !env.isPidAlive(record.pid)) {
    staleReason = 'dead-pid';
    staleDetail = `pid ${record.pid} is not running on ${record.host}`;
  }
  return {
    ...fields,
    readable: true,
    ageMs,
    stale: staleReason !== undefined,
    ...(staleReason === undefined ? {} : { staleReason, staleDetail }),
  };
}

/**
 * Every lock in the repository, each judged stale or not: expired, or on this host with a pid
 * that is not running. Locks that fail authentication are listed as unreadable (and stale).
 */
export async function listLocks(
  backend: Backend,
  key: Uint8Array,
  env: LockEnvironment = {},
): Promise<LockInfo[]> {
  return listResolved(backend, key, resolveEnv(env));
}

async function listResolved(
  backend: Backend,
  key: Uint8Array,
  env: ResolvedEnv,
): Promise<LockInfo[]> {
  const names: string[] = [];
  for await (const { name } of backend.list(FileType.locks)) names.push(name);
  const locks = await Promise.all(names.map((name) => readLock(backend, key, name, env)));
  return locks.filter((lock): lock is LockInfo => lock !== undefined);
}

/**
 * Removes stale locks (expired, dead pid on this host, unreadable), or every lock with `force`.
 * Returns the removed locks. Needs the backend's `delete` capability.
 */
export async function removeStaleLocks(
  backend: Backend,
  key: Uint8Array,
  options: RemoveStaleLocksOptions = {},
): Promise<LockInfo[]> {
  requireLockCapabilities(backend, false);
  const locks = await listLocks(backend, key, options);
  const doomed = locks.filter((lock) => options.force === true || lock.stale);
  for (const lock of doomed) await backend.remove(FileType.locks, lock.id);
  return doomed;
}

/**
 * Takes a lock: writes it, then lists the others. A conflicting lock (exclusive against
 * anything) makes it withdraw its own and throw `SHIP_REPO_LOCKED` (a live holder: wait and
 * retry) or `SHIP_REPO_LOCK_STALE` (a stale one: `shipshape repo unlock`), both exit 13.
 * Between two live conflicting lockers, the older by `(created, id)` waits for the younger to
 * withdraw and the younger always withdraws, so racers never both back off forever.
 *
 * @example
 * const lock = await acquireLock(backend, subkeys.encryption, { kind: 'shared', operation: 'backup' });
 * try { ... } finally { await lock.release(); }
 */
export async function acquireLock(
  backend: Backend,
  key: Uint8Array,
  options: AcquireLockOptions,
): Promise<HeldLock> {
  requireLockCapabilities(backend, true);
  const env = resolveEnv(options);
  const ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new Error(`lock ttlMs must be a positive number, got ${ttlMs}`);
  }
  const id = randomBytes(32).toString('hex');
  const created = env.now();
  const record: LockRecord = {
    format: LOCK_FORMAT,
    id,
    kind: options.kind,
    operation: options.operation,
    holder: options.holder ?? currentUser(),
    host: env.host,
    pid: options.pid ?? process.pid,
    created: created.toISOString(),
    refreshed: created.toISOString(),
    expires: new Date(created.getTime() + ttlMs).toISOString(),
    held: false,
  };
  await backend.put(FileType.locks, id, sealLock(key, record));
  failpoint('lock.written');

  const deadline = Date.now() + (options.raceWaitMs ?? 10_000);
  let pause = 20;
  let attempt = 0;
  try {
    for (; ; attempt++) {
      const others = (await listResolved(backend, key, env)).filter((lock) => lock.id !== id);
      const conflicts = others.filter((lock) => conflictsWith(record.kind, lock));
      if (conflicts.length === 0) break;
      // Only live, younger, still pending lockers are waited for: they are racing us and will
      // see us and withdraw. A holder, an older locker or a stale lock is in the way for real.
      // An unreadable lock is re-read a few times first: on a backend without atomic puts (such
      // as s3rver) a racer's lock can be caught half-written.
      const mustWait = conflicts.every((lock) =>
        lock.readable
          ? !lock.stale && !lock.held && isOlder(record, lock)
          : attempt < UNREADABLE_RELISTS,
      );
      if (!mustWait || Date.now() >= deadline) {
        throw lockConflictError(backend.location, record, conflicts, env.now());
      }
      await delay(pause);
      pause = Math.min(pause * 2, 500);
    }
    // Marks the lock held, so that a racer older by the tie-break stops waiting for it.
    const held: LockRecord = { ...record, held: true };
    await backend.put(FileType.locks, id, sealLock(key, held));
    failpoint('lock.held');
    return new Held(backend, key, held, ttlMs, env);
  } catch (error) {
    // Withdraw: a lock left behind by a refused or failed acquire would block others. (A
    // crash test's simulated death leaves it, as a real crash would.)
    if (!isSimulatedCrash(error)) await backend.remove(FileType.locks, id).catch(() => undefined);
    throw error;
  }
}

function conflictsWith(kind: LockKind, other: LockInfo): boolean {
  // An unreadable lock could be of either kind: assume the worst.
  if (!other.readable) return true;
  return kind === LockKind.exclusive || other.kind === LockKind.exclusive;
}

function isOlder(mine: LockRecord, other: ReadableLockInfo): boolean {
  const a = Date.parse(mine.created);
  const b = Date.parse(other.created);
  return a !== b ? a < b : mine.id < other.id;
}

class Held implements HeldLock {
  readonly #backend: Backend;
  readonly #key: Uint8Array;
  readonly #ttlMs: number;
  readonly #env: ResolvedEnv;
  readonly #timer: NodeJS.Timeout;
  #record: LockRecord;
  #released = false;
  #refreshError: ShipError | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(
    backend: Backend,
    key: Uint8Array,
    record: LockRecord,
    ttlMs: number,
    env: ResolvedEnv,
  ) {
    this.#backend = backend;
    this.#key = key;
    this.#record = record;
    this.#ttlMs = ttlMs;
    this.#env = env;
    // unref: a held lock must never keep the process alive on its own.
    this.#timer = setInterval(() => void this.#autoRefresh(), Math.max(1, ttlMs / 3)).unref();
  }

  get id(): string {
    return this.#record.id;
  }
  get kind(): LockKind {
    return this.#record.kind;
  }
  get operation(): string {
    return this.#record.operation;
  }
  get record(): LockRecord {
    return this.#record;
  }
  get refreshError(): ShipError | undefined {
    return this.#refreshError;
  }

  async #autoRefresh(): Promise<void> {
    if (this.#refreshing !== undefined) return;
    try {
      await this.refresh();
    } catch (error) {
      this.#refreshError = isShipError(error)
        ? error
        : ShipError.runtime(
            LockErrorCode.lost,
            `refreshing lock ${this.id} failed: ${String(error)}`,
            {
              cause: error,
            },
          );
    }
  }

  async refresh(): Promise<void> {
    if (this.#released) throw new Error(`lock ${this.id} was released; it cannot be refreshed`);
    const run = (async () => {
      // A lock removed behind our back (`repo unlock --force`) must not silently reappear.
      if ((await this.#backend.stat(FileType.locks, this.id)) === undefined) {
        throw lockLostError(this.#backend.location, this.#record);
      }
      const now = this.#env.now();
      const next: LockRecord = {
        ...this.#record,
        refreshed: now.toISOString(),
        expires: new Date(now.getTime() + this.#ttlMs).toISOString(),
      };
      await this.#backend.put(FileType.locks, this.id, sealLock(this.#key, next));
      this.#record = next;
    })();
    this.#refreshing = run;
    try {
      await run;
    } finally {
      this.#refreshing = undefined;
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    // Let an in-flight refresh finish first, or it could rewrite the lock after the remove.
    await this.#refreshing?.catch(() => undefined);
    await this.#backend.remove(FileType.locks, this.id);
    failpoint('lock.removed');
  }
}

function requireLockCapabilities(backend: Backend, forAcquire: boolean): void {
  if (forAcquire && !backend.capabilities.listAfterWrite) {
    // Write-then-list only excludes a racer if the racer's lock is listed once its put returned.
    throw ShipError.usage(
      LockErrorCode.unsupported,
      `${backend.location} does not list objects right after they are written, so locks there could not exclude each other`,
      {
        hint: 'use a backend with read-after-write listing (see "Locks" in docs/repository-format.md)',
      },
    );
  }
  if (!backend.capabilities.delete) {
    throw ShipError.usage(
      LockErrorCode.unsupported,
      `${backend.location} does not support deleting objects, so locks cannot be taken or removed there`,
      {
        hint: 'use credentials that may delete objects under locks/ (see "Locks" in docs/repository-format.md)',
      },
    );
  }
}

function lockLostError(location: string, record: LockRecord): ShipError {
  return new ShipError(
    LockErrorCode.lost,
    `The ${record.kind} lock ${record.id} for ${record.operation} on ${location} was removed by someone else while held (\`repo unlock --force\`?); the operation is no longer protected.`,
    {
      exitCode: ExitCode.lockHeld,
      details: { id: record.id, location },
      hint: 'stop the operation and run it again; only force-unlock locks whose holder is known to be gone',
    },
  );
}

/** Describes one lock for messages: `exclusive lock by ana on db1 (pid 4242) for prune, …`. */
export function describeLock(lock: LockInfo, now: Date = new Date()): string {
  if (!lock.readable) return `${lock.staleDetail}: unreadable, so treated as exclusive`;
  const expiresIn = Date.parse(lock.expires) - now.getTime();
  const expiry =
    expiresIn >= 0
      ? `expires in ${formatDuration(expiresIn)}`
      : `expired ${formatDuration(-expiresIn)} ago`;
  const state = lock.stale ? `looks stale: ${lock.staleDetail}` : 'looks alive';
  return `${lock.kind} lock ${lock.id.slice(0, 12)} by ${lock.holder} on ${lock.host} (pid ${lock.pid}) for ${lock.operation}, created ${formatDuration(lock.ageMs)} ago, ${expiry}; ${state}`;
}

function lockConflictError(
  location: string,
  mine: LockRecord,
  conflicts: LockInfo[],
  now: Date,
): ShipError {
  const live = conflicts.filter((lock) => !lock.stale);
  const stale = live.length === 0;
  const want = `${mine.kind === LockKind.exclusive ? 'an' : 'a'} ${mine.kind} lock for ${mine.operation}`;
  const list = conflicts.map((lock) => `  - ${describeLock(lock, now)}`).join('\n');
  const message = stale
    ? `Repository ${location} is blocked by a stale lock; ${want} was not taken, nothing was changed:\n${list}`
    : `Repository ${location} is locked; ${want} was not taken, nothing was changed:\n${list}`;
  const hint = stale
    ? 'if no shipshape process is still working on this repository, run `shipshape repo unlock` to remove stale locks, then retry'
    : 'wait for the holder to finish and retry; if it died on another host, its lock becomes stale when it expires (then `shipshape repo unlock`)';
  return new ShipError(stale ? LockErrorCode.stale : LockErrorCode.locked, message, {
    exitCode: ExitCode.lockHeld,
    retryable: !stale,
    hint,
    details: { location, locks: conflicts },
  });
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/** `42s`, `5m`, `2h5m`, `3d4h`. */
function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}
