import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

import { ShipError, redact } from '../core/index.js';
import type { NewEvidence } from '../ledger/index.js';
import type { Repository, StoredSnapshot } from '../repo/index.js';
import { resolveSecretString, type Datastore } from '../spec/index.js';

import type { Driver, Target } from './driver.js';
import { DatastoreErrorCode } from './errors.js';
import {
  compareFingerprints,
  fingerprintFromManifest,
  type FingerprintComparison,
} from './fingerprint.js';
import { driverFor } from './registry.js';
import { repositoryReader } from './repository.js';
import { specDatastore, withDatastoreRepository, type BackupRunContext } from './run.js';

/** Where a restore resolves the spec's references and the `--to` path. */
export type RestoreRunContext = Pick<BackupRunContext, 'spec' | 'baseDir' | 'env'> & {
  /** Directory a relative `--to` path is read from (the caller's working directory). */
  readonly cwd: string;
};

/** Options of {@link runDatastoreRestore}. */
export interface RestoreRunOptions {
  /** Snapshot id prefix or `latest`. @default 'latest' (or the newest at or before `at`) */
  readonly snapshot?: string;
  /** Restore the newest snapshot whose data is consistent at or before this moment. */
  readonly at?: Date;
  /** Only snapshots tagged `env:<environment>` (as `backup run --env` tags them). */
  readonly environment?: string;
  /** The target: a connection string or path; `${env:…}`/`${file:…}` references allowed. */
  readonly to: string;
  /** Replace the data of a non-empty target. @default false */
  readonly force?: boolean;
  /** Parallel jobs where the driver supports them. @default the driver's */
  readonly jobs?: number;
  /** Called before each phase, for progress on a terminal. */
  readonly onStep?: (step: string) => void;
  /** Called after the data is restored and before it is fingerprinted. */
  readonly afterRestore?: (target: Target) => Promise<void>;
}

/** The fingerprint check after a restore or in a sandbox. */
export type FingerprintCheck =
  | { readonly state: 'skipped'; readonly why: string }
  | ({
      readonly state: 'match' | 'mismatch';
      readonly mode: 'counts' | 'full';
      readonly expected: string;
      readonly actual: string;
    } & Omit<FingerprintComparison, 'equal'>);

/** What a restore did. */
export interface RestoreRunResult {
  readonly datastore: string;
  readonly kind: string;
  readonly snapshot: {
    readonly id: string;
    readonly time: string;
    readonly consistentAt: string | null;
  };
  /** The target without secrets. */
  readonly target: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly fingerprint: FingerprintCheck;
}

/** When a snapshot's data is consistent as of: its consistent point's source time, else its time. */
export function snapshotDataTime(snapshot: StoredSnapshot): Date {
  const sourceTime = snapshot.manifest.consistentPoint?.sourceTime;
  return new Date(sourceTime ?? snapshot.manifest.time);
}

/**
 * The snapshot of data store `name` to restore: `ref` (an id prefix or `latest`), or with `at`
 * the newest whose data is consistent at or before `at`. `environment` keeps snapshots tagged
 * `env:<environment>`.
 */
export async function pickSnapshot(
  repo: Repository,
  name: string,
  options: Pick<RestoreRunOptions, 'snapshot' | 'at' | 'environment'>,
): Promise<StoredSnapshot> {
  const tag = options.environment === undefined ? {} : { tag: `env:${options.environment}` };
  const ref = options.snapshot ?? 'latest';
  if (options.at === undefined) return repo.resolveSnapshot(ref, { source: name, ...tag });
  if (ref !== 'latest') {
    throw ShipError.usage('SHIP_CLI_USAGE', 'give --snapshot or --at, not both', {
      hint: '--at picks the newest snapshot consistent at or before TIME; --snapshot names one',
    });
  }
  const at = options.at.getTime();
  const candidates = (await repo.snapshots({ source: name, ...tag }))
    .map((snapshot) => ({ snapshot, time: snapshotDataTime(snapshot).getTime() }))
    .filter((c) => c.time <= at)
    .sort((a, b) => a.time - b.time || a.snapshot.id.localeCompare(b.snapshot.id));
  const chosen = candidates.at(-1);
  if (chosen === undefined) {
    throw ShipError.usage(
      DatastoreErrorCode.noSnapshot,
      `data store ${name} has no snapshot consistent at or before ${options.at.toISOString()}`,
      {
        details: { datastore: name, at: options.at.toISOString() },
        hint: 'pick a later --at, or see the snapshots with `shipshape backup list`',
      },
    );
  }
  return chosen.snapshot;
}

/**
 * Fingerprints `target` and compares it with the fingerprint in `snapshot`'s manifest (in the
 * manifest's mode). Skipped when the snapshot has none (`fingerprint: off`).
 */
export async function checkFingerprint(
  driver: Driver,
  target: Target,
  snapshot: StoredSnapshot,
): Promise<FingerprintCheck> {
  const expected = fingerprintFromManifest(snapshot.manifest.fingerprints);
  if (expected === undefined) {
    return { state: 'skipped', why: 'the snapshot has no fingerprint (fingerprint: off)' };
  }
  const actual = await driver.fingerprint(target, expected.mode);
  const { equal, ...diff } = compareFingerprints(expected, actual);
  return {
    state: equal ? 'match' : 'mismatch',
    mode: expected.mode,
    expected: expected.digest,
    actual: actual.digest,
    ...diff,
  };
}

/** The names a fingerprint mismatch is about, for messages: `orders (changed), items (missing)`. */
export function describeMismatch(check: FingerprintCheck): string {
  if (check.state !== 'mismatch') return '';
  const parts = [
    ...check.changed.map((n) => `${n} (changed)`),
    ...check.missing.map((n) => `${n} (missing)`),
    ...check.extra.map((n) => `${n} (extra)`),
  ];
  return parts.length === 0 ? 'the fingerprints differ' : parts.join(', ');
}

/** The restore target of `datastore` from a `--to` value, references resolved. */
export function restoreTarget(
  name: string,
  datastore: Datastore,
  to: string,
  context: Pick<RestoreRunContext, 'baseDir' | 'env' | 'cwd'>,
  environment?: string,
): Target {
  let connection = resolveSecretString(to, {
    baseDir: context.baseDir,
    env: context.env,
    field: '--to',
  });
  if (connection.trim() === '') {
    throw ShipError.usage(DatastoreErrorCode.badConnection, '--to is empty', {
      hint: 'give the target: a connection string (postgres), a file (sqlite) or a directory',
    });
  }
  if (
    (datastore.kind === 'sqlite' || datastore.kind === 'files') &&
    !/^[a-z]+:/i.test(connection)
  ) {
    connection = isAbsolute(connection) ? connection : resolve(context.cwd, connection);
  }
  return {
    name,
    connection,
    ...(environment === undefined ? {} : { environment }),
    ...(datastore.command === undefined ? {} : { command: datastore.command }),
  };
}

/**
 * Restores a snapshot of spec data store `name` into the target `options.to` through its
 * driver, then fingerprints the target and compares it with the manifest. Refuses a non-empty
 * target without `force` (`SHIP_DATASTORE_TARGET_NOT_EMPTY`, exit 2). Needs no state store:
 * the spec, the repository and its key are enough.
 */
export async function runDatastoreRestore(
  name: string,
  context: RestoreRunContext,
  options: RestoreRunOptions,
): Promise<RestoreRunResult> {
  const startedAt = new Date();
  const datastore = specDatastore(context.spec, name);
  const driver = driverFor(datastore.kind);
  const target = restoreTarget(name, datastore, options.to, context, options.environment);
  const step = options.onStep ?? (() => undefined);
  return withDatastoreRepository(name, context, async (repo) => {
    step('picking the snapshot');
    const snapshot = await pickSnapshot(repo, name, options);
    const reader = await repositoryReader(repo, snapshot.id, { source: name });
    step(`restoring snapshot ${snapshot.id.slice(0, 12)} into ${redact(target.connection)}`);
    if (datastore.kind === 'sqlite' || datastore.kind === 'files') {
      // A disaster target is often a fresh path: create its parent, as `cp` to a new place would.
      await mkdir(dirname(target.connection), { recursive: true });
    }
    await driver.restore(reader, target, {
      force: options.force ?? false,
      ...(options.jobs === undefined ? {} : { jobs: options.jobs }),
    });
    await options.afterRestore?.(target);
    step('verifying the fingerprint');
    const fingerprint = await checkFingerprint(driver, target, snapshot);
    const consistentAt = snapshot.manifest.consistentPoint?.sourceTime ?? null;
    return {
      datastore: name,
      kind: datastore.kind,
      snapshot: { id: snapshot.id, time: snapshot.manifest.time, consistentAt },
      target: redact(target.connection),
      startedAt,
      finishedAt: new Date(),
      fingerprint,
    };
  });
}

/** The `datastore-restored` event of a restore (secrets redacted). */
/**
 * The evidence of a restore that stopped with an error (refused target, unreachable server,
 * damaged snapshot…): what was attempted and why it failed. `target` is recorded as given
 * (secrets stay references) and redacted.
 */
export function restoreFailureEvidence(
  datastore: string,
  target: string,
  error: ShipError,
  startedAt: Date,
): NewEvidence {
  return {
    kind: 'event',
    subject: `datastore:${datastore}`.slice(0, 256),
    body: {
      type: 'datastore-restore-failed',
      details: {
        datastore,
        target: redact(target),
        startedAt: startedAt.toISOString(),
        failedAt: new Date().toISOString(),
        code: error.code,
        exitCode: error.exitCode,
        message: redact(error.message),
      },
    },
  };
}

export function restoreEvidence(result: RestoreRunResult): NewEvidence {
  return {
    kind: 'event',
    subject: `datastore:${result.datastore}`.slice(0, 256),
    body: {
      type: 'datastore-restored',
      details: {
        datastore: result.datastore,
        kind: result.kind,
        snapshotId: result.snapshot.id,
        snapshotTime: result.snapshot.time,
        consistentAt: result.snapshot.consistentAt,
        target: result.target,
        startedAt: result.startedAt.toISOString(),
        finishedAt: result.finishedAt.toISOString(),
        durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
        fingerprint: { ...result.fingerprint },
      },
    },
  };
}
