import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { ExitCode, isShipError, isSimulatedCrash, type ExitCodeValue } from '../core/index.js';
import type { NewEvidence } from '../ledger/index.js';
import type { Repository, StoredSnapshot } from '../repo/index.js';

import { driverFor } from './registry.js';
import { repositoryReader } from './repository.js';
import { checkFingerprint, snapshotDataTime, type FingerprintCheck } from './restore-run.js';
import { specDatastore, withDatastoreRepository, type BackupRunContext } from './run.js';

/** Options of {@link verifyDatastoreBackups}. */
export interface VerifyRunOptions {
  /** Also restore the newest snapshot into a sandbox and compare fingerprints. @default false */
  readonly restore?: boolean;
  /** Only snapshots tagged `env:<environment>`. */
  readonly environment?: string;
  /** Directory sandboxes and tree reads use. @default os.tmpdir() */
  readonly tempDir?: string;
  readonly onStep?: (step: string) => void;
}

/** One snapshot whose data could not be read back whole, and why. */
export interface UnreadableSnapshot {
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

/** What `backup verify` found for one data store. */
export interface VerifyRunResult {
  readonly datastore: string;
  readonly kind: string;
  readonly ok: boolean;
  /** Exit code this result calls for: 0, 1 (nothing to verify, fingerprint mismatch), 11. */
  readonly exitCode: ExitCodeValue;
  readonly summary: string;
  readonly snapshots: number;
  /** Snapshots of this store the structural repository check found damaged. */
  readonly damaged: readonly { id: string; reasons: readonly string[] }[];
  /** Problems of the structural check anywhere in the repository (other stores' too). */
  readonly repositoryProblems: number;
  /** Snapshots read back whole (every blob decrypted and authenticated). */
  readonly read: number;
  readonly unreadable: readonly UnreadableSnapshot[];
  /** The sandbox restore of the newest snapshot (with `restore`). */
  readonly sandbox:
    | { readonly snapshotId: string; readonly fingerprint: FingerprintCheck }
    | { readonly snapshotId: string; readonly error: { code: string; message: string } }
    | null;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

/** A Writable that discards what it is given: a snapshot read only to authenticate it. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

async function readBack(
  repo: Repository,
  name: string,
  snapshot: StoredSnapshot,
  tempDir: string,
): Promise<void> {
  const reader = await repositoryReader(repo, snapshot.id, { source: name });
  if (snapshot.manifest.content.type === 'stream') {
    await reader.stream(discard());
    return;
  }
  const dir = await mkdtemp(join(tempDir, 'shipshape-verify-'));
  try {
    await reader.tree(join(dir, 'tree'), { force: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function errorFacts(error: unknown): { code: string; message: string } {
  if (isShipError(error)) return { code: error.code, message: error.message };
  return { code: 'SHIP_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Verifies the backups of spec data store `name`: a structural check of its repository (the
 * store's snapshots among the damaged ones are named), then every snapshot of the store read
 * back whole — which decrypts and authenticates exactly the blobs those snapshots use — and,
 * with `restore`, the newest snapshot restored into a driver sandbox and fingerprinted.
 */
export async function verifyDatastoreBackups(
  name: string,
  context: Pick<BackupRunContext, 'spec' | 'baseDir' | 'env'>,
  options: VerifyRunOptions = {},
): Promise<VerifyRunResult> {
  const startedAt = new Date();
  const datastore = specDatastore(context.spec, name);
  const step = options.onStep ?? (() => undefined);
  const tempDir = options.tempDir ?? tmpdir();
  return withDatastoreRepository(name, context, async (repo) => {
    const tag = options.environment === undefined ? {} : { tag: `env:${options.environment}` };
    const snapshots = (await repo.snapshots({ source: name, ...tag })).sort(
      (a, b) => snapshotDataTime(a).getTime() - snapshotDataTime(b).getTime(),
    );
    step(`checking the repository of ${name}`);
    const check = await repo.check();
    const ids = new Set(snapshots.map((s) => s.id));
    const damaged = check.snapshots.damaged.filter((d) => ids.has(d.id));
    const unreadable: UnreadableSnapshot[] = [];
    let read = 0;
    for (const snapshot of snapshots) {
      step(`reading snapshot ${snapshot.id.slice(0, 12)} of ${name}`);
      try {
        await readBack(repo, name, snapshot, tempDir);
        read++;
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        unreadable.push({ id: snapshot.id, ...errorFacts(error) });
      }
    }
    let sandbox: VerifyRunResult['sandbox'] = null;
    const newest = snapshots.at(-1);
    if (options.restore === true && newest !== undefined) {
      step(`restoring snapshot ${newest.id.slice(0, 12)} of ${name} into a sandbox`);
      const driver = driverFor(datastore.kind);
      try {
        const reader = await repositoryReader(repo, newest.id, { source: name });
        const instance = await driver.sandbox(reader, { baseDir: tempDir });
        try {
          sandbox = {
            snapshotId: newest.id,
            fingerprint: await checkFingerprint(driver, instance.target, newest),
          };
        } finally {
          await instance.stop();
        }
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        sandbox = { snapshotId: newest.id, error: errorFacts(error) };
      }
    }

    const corrupt = damaged.length > 0 || unreadable.length > 0;
    const mismatch =
      sandbox !== null && 'fingerprint' in sandbox && sandbox.fingerprint.state === 'mismatch';
    const sandboxFailed = sandbox !== null && 'error' in sandbox;
    let exitCode: ExitCodeValue = ExitCode.ok;
    let summary: string;
    if (snapshots.length === 0) {
      exitCode = ExitCode.gateFailed;
      summary = `${name} has no snapshots to verify`;
    } else if (corrupt) {
      exitCode = ExitCode.repoCorrupt;
      summary = `${damaged.length + unreadable.length} of ${snapshots.length} snapshots of ${name} are damaged`;
    } else if (mismatch || sandboxFailed) {
      exitCode = mismatch ? ExitCode.gateFailed : ExitCode.runtime;
      summary = mismatch
        ? `the sandbox restore of ${name} does not match its snapshot's fingerprint`
        : `the sandbox restore of ${name} failed`;
    } else {
      summary =
        `${snapshots.length} snapshots of ${name} read back whole` +
        (sandbox === null ? '' : ', newest restored into a sandbox and fingerprinted');
    }
    return {
      datastore: name,
      kind: datastore.kind,
      ok: exitCode === ExitCode.ok,
      exitCode,
      summary,
      snapshots: snapshots.length,
      damaged: damaged.map((d) => ({ id: d.id, reasons: [...d.reasons] })),
      repositoryProblems: check.problems.length,
      read,
      unreadable,
      sandbox,
      startedAt,
      finishedAt: new Date(),
    };
  });
}

/** The `datastore-verified` event of a verification. */
export function verifyEvidence(result: VerifyRunResult): NewEvidence {
  return {
    kind: 'event',
    subject: `datastore:${result.datastore}`.slice(0, 256),
    body: {
      type: 'datastore-verified',
      details: {
        datastore: result.datastore,
        kind: result.kind,
        ok: result.ok,
        summary: result.summary,
        snapshots: result.snapshots,
        read: result.read,
        damaged: result.damaged.map((d) => ({ id: d.id, reasons: [...d.reasons] })),
        unreadable: result.unreadable.map((u) => ({ ...u })),
        repositoryProblems: result.repositoryProblems,
        sandbox:
          result.sandbox === null
            ? null
            : 'error' in result.sandbox
              ? { snapshotId: result.sandbox.snapshotId, error: { ...result.sandbox.error } }
              : {
                  snapshotId: result.sandbox.snapshotId,
                  fingerprint: { ...result.sandbox.fingerprint },
                },
        startedAt: result.startedAt.toISOString(),
        finishedAt: result.finishedAt.toISOString(),
      },
    },
  };
}
