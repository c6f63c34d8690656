import { isAbsolute, resolve } from 'node:path';

import { ShipError, didYouMean, isShipError, isSimulatedCrash, redact } from '../core/index.js';
import type { GateResultInput } from '../ledger/index.js';
import { Repository, type BackupProgress, type StoredSnapshot } from '../repo/index.js';
import { resolveSecretString, type Datastore, type Spec } from '../spec/index.js';
import { openSpecRepository } from '../workspace/index.js';

import type { BackupOutcome, Target } from './driver.js';
import { driverFor } from './registry.js';
import { repositorySink } from './repository.js';

/** Where `backup run` resolves the spec's references. */
export interface BackupRunContext {
  readonly spec: Spec;
  /** The spec's directory: relative paths and `${file:…}` start here. */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Which `connection` entry to use; needed when a data store has several. */
  readonly environment?: string;
  readonly tags?: readonly string[];
  readonly onProgress?: (datastore: string, progress: BackupProgress) => void;
}

interface RunFacts {
  readonly datastore: string;
  readonly kind: string;
  readonly environment: string | undefined;
  readonly repository: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

/** One data store's backup: its outcome, or the error that stopped it (no snapshot then). */
export type BackupRunResult =
  | (RunFacts & { readonly ok: true; readonly outcome: BackupOutcome })
  | (RunFacts & { readonly ok: false; readonly error: ShipError });

/** The spec's data store `name`; `SHIP_SPEC_UNKNOWN_REFERENCE` (exit 2) when absent. */
export function specDatastore(spec: Spec, name: string): Datastore {
  const found = spec.datastores[name];
  if (found !== undefined) return found;
  const names = Object.keys(spec.datastores);
  const suggestion = didYouMean(name, names);
  throw ShipError.usage(
    'SHIP_SPEC_UNKNOWN_REFERENCE',
    `the spec defines no data store named ${name}`,
    {
      details: { datastore: name, defined: names },
      hint:
        suggestion !== undefined
          ? `did you mean ${suggestion}?`
          : names.length === 0
            ? 'add one under `datastores:` in the spec'
            : `defined: ${names.join(', ')}`,
    },
  );
}

/**
 * The driver target of a spec data store in one environment: the connection with its secret
 * references resolved (and registered for redaction); paths of `sqlite`/`files` stores resolved
 * against the spec's directory. With no `environment`, a store with exactly one connection uses
 * it; several are a usage error naming them.
 */
export function datastoreTarget(
  name: string,
  datastore: Datastore,
  context: Pick<BackupRunContext, 'baseDir' | 'env' | 'environment'>,
): { target: Target; environment: string } {
  const environments = Object.keys(datastore.connection);
  const environment =
    context.environment ?? (environments.length === 1 ? environments[0] : undefined);
  if (environment === undefined) {
    throw ShipError.usage(
      'SHIP_DATASTORE_ENVIRONMENT_REQUIRED',
      `data store ${name} has connections for ${environments.join(', ')}: say which`,
      { hint: `pass --env ${environments[0] ?? 'production'}` },
    );
  }
  const raw = datastore.connection[environment];
  if (raw === undefined) {
    throw ShipError.usage(
      'SHIP_DATASTORE_NO_CONNECTION',
      `data store ${name} has no connection for environment ${environment}`,
      {
        details: { datastore: name, environment, environments },
        hint: `add \`datastores.${name}.connection.${environment}\`, or pass --env ${environments.join('|')}`,
      },
    );
  }
  let connection = resolveSecretString(raw, {
    baseDir: context.baseDir,
    env: context.env,
    field: `datastores.${name}.connection.${environment}`,
  });
  if (
    (datastore.kind === 'sqlite' || datastore.kind === 'files') &&
    !/^[a-z]+:/i.test(connection)
  ) {
    connection = isAbsolute(connection) ? connection : resolve(context.baseDir, connection);
  }
  return {
    target: {
      name,
      connection,
      environment,
      ...(datastore.command === undefined ? {} : { command: datastore.command }),
    },
    environment,
  };
}

/**
 * Opens the repository of spec data store `name` (local or S3, append-only when configured),
 * runs `fn` with it, and closes it.
 */
export async function withDatastoreRepository<T>(
  name: string,
  context: Pick<BackupRunContext, 'spec' | 'baseDir' | 'env'>,
  fn: (repo: Repository, datastore: Datastore) => Promise<T>,
): Promise<T> {
  const datastore = specDatastore(context.spec, name);
  const opened = await openSpecRepository(context.spec, datastore.repository, {
    baseDir: context.baseDir,
    env: context.env,
  });
  try {
    const repo = await Repository.open(opened.backend, opened.password, {
      appendOnly: opened.appendOnly,
      ...(opened.packTargetBytes === undefined ? {} : { packTargetBytes: opened.packTargetBytes }),
    });
    try {
      return await fn(repo, datastore);
    } finally {
      await repo.close();
    }
  } finally {
    await opened.backend.close();
  }
}

/** The snapshots of spec data store `name` in its repository, oldest first. */
export function datastoreSnapshots(
  name: string,
  context: Pick<BackupRunContext, 'spec' | 'baseDir' | 'env'>,
): Promise<StoredSnapshot[]> {
  return withDatastoreRepository(name, context, (repo) => repo.snapshots({ source: name }));
}

/**
 * Backs up one spec data store into its repository. Returns the result either way (a failed
 * backup writes no snapshot, and is still a result to record); throws only for a simulated
 * crash.
 */
export async function runDatastoreBackup(
  name: string,
  context: BackupRunContext,
): Promise<BackupRunResult> {
  const startedAt = new Date();
  let facts: Omit<RunFacts, 'finishedAt'> = {
    datastore: name,
    kind: context.spec.datastores[name]?.kind ?? 'unknown',
    environment: context.environment,
    repository: context.spec.datastores[name]?.repository ?? 'unknown',
    startedAt,
  };
  try {
    const datastore = specDatastore(context.spec, name);
    const driver = driverFor(datastore.kind);
    const { target, environment } = datastoreTarget(name, datastore, context);
    facts = { ...facts, environment };
    return await withDatastoreRepository(name, context, async (repo) => {
      const onProgress = context.onProgress;
      const sink = repositorySink(repo, {
        name,
        kind: datastore.kind,
        tags: [...(context.tags ?? []), `env:${environment}`],
        ...(onProgress === undefined
          ? {}
          : {
              onProgress: (p: BackupProgress) => {
                onProgress(name, p);
              },
            }),
      });
      const outcome = await driver.backup(target, sink, { fingerprint: datastore.fingerprint });
      return { ...facts, finishedAt: new Date(), ok: true as const, outcome };
    });
  } catch (error) {
    if (isSimulatedCrash(error)) throw error;
    const shipError = isShipError(error)
      ? error
      : ShipError.runtime(
          'SHIP_INTERNAL',
          `internal error: ${error instanceof Error ? error.message : String(error)}`,
        );
    return { ...facts, finishedAt: new Date(), ok: false, error: shipError };
  }
}

/** The `backup` gate result of one run: what evidence records (secrets redacted). */
export function backupEvidence(result: BackupRunResult): GateResultInput {
  const durationMs = result.finishedAt.getTime() - result.startedAt.getTime();
  const common = {
    gate: 'backup' as const,
    startedAt: result.startedAt.toISOString(),
    finishedAt: result.finishedAt.toISOString(),
    durationMs,
  };
  const where = {
    datastore: result.datastore,
    kind: result.kind,
    repository: result.repository,
    ...(result.environment === undefined ? {} : { environment: result.environment }),
  };
  if (!result.ok) {
    return {
      ...common,
      outcome: 'failed',
      measurements: [{ name: 'duration_seconds', value: durationMs / 1000, unit: 'seconds' }],
      artifacts: [],
      summary: redact(
        `backup of ${result.datastore} failed: ${result.error.code}: ${result.error.message}`,
      ).slice(0, 2000),
      details: {
        ...where,
        error: {
          code: result.error.code,
          exitCode: result.error.exitCode,
          message: redact(result.error.message),
          ...(result.error.hint === undefined ? {} : { hint: redact(result.error.hint) }),
        },
      },
    };
  }
  const { outcome } = result;
  const snapshot = outcome.snapshot;
  return {
    ...common,
    outcome: 'passed',
    measurements: [
      { name: 'duration_seconds', value: durationMs / 1000, unit: 'seconds' },
      { name: 'bytes_read', value: snapshot.bytesRead, unit: 'bytes' },
      { name: 'bytes_new', value: snapshot.bytesNew, unit: 'bytes' },
      { name: 'bytes_stored', value: snapshot.bytesStored, unit: 'bytes' },
      { name: 'chunks', value: snapshot.chunks, unit: 'count' },
    ],
    artifacts: [
      { name: `snapshot ${snapshot.snapshotId}`, digest: `sha256:${snapshot.snapshotId}` },
    ],
    summary: `backup of ${result.datastore} (${result.kind}) → snapshot ${snapshot.snapshotId.slice(0, 12)}`,
    details: {
      ...where,
      snapshotId: snapshot.snapshotId,
      consistentPoint: { ...outcome.consistentPoint },
      identity: { ...outcome.identity },
      ...(outcome.fingerprint === undefined
        ? {}
        : { fingerprint: { mode: outcome.fingerprint.mode, digest: outcome.fingerprint.digest } }),
      toolVersions: { ...outcome.toolVersions },
    },
  };
}
