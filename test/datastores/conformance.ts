/**
 * The data-store driver conformance suite. Every driver runs all of it against the real thing
 * (PostgreSQL from scripts/services.sh, SQLite files, directories, shell commands); a test a
 * kind cannot run is skipped with the reason in its title.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  compareFingerprints,
  fingerprintFromManifest,
  repositoryReader,
  repositorySink,
  type Driver,
  type Target,
} from '../../src/datastores/index.js';
import { Repository, openFsBackend, type InitOptions } from '../../src/repo/index.js';

export const PASSWORD = 'correct horse battery staple';
/** Cheap scrypt, small chunks and packs: the suite is about drivers, not the repository. */
export const FAST: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 4096, avgSize: 16 * 1024, maxSize: 64 * 1024 },
  packTargetBytes: 1024 * 1024,
  workers: 1,
};

/** A target the harness made, and how to remove it. */
export interface MadeTarget {
  target: Target;
  drop: () => Promise<void>;
}

/** A backup that must fail: how to make the failing target, the code, and a secret it must not leak. */
export interface FaultCase {
  name: string;
  make: () => Promise<MadeTarget>;
  code: string;
  /** A secret the target carries; it must appear nowhere in the error. */
  secret?: string;
  /** Restores the environment after the case (e.g. an unset variable). */
  after?: () => void;
}

export interface DriverHarness {
  /** Shown in titles. */
  name: string;
  driver: Driver;
  /** A new, empty target (database, file path, directory…). */
  empty: () => Promise<MadeTarget>;
  /** Fills a target with awkward data: NULLs, binary, unicode, large objects, many tables. */
  seed: (target: Target) => Promise<void>;
  /** Changes the data (one more row/file) so that a fingerprint must change. */
  change: (target: Target) => Promise<void>;
  /** Entries the seed data must produce in a fingerprint (at least these). */
  expectEntries: string[];
  faults: FaultCase[];
  /** Why the sandbox test cannot run for this kind. */
  sandboxSkip?: string;
  /** Why fingerprint-after-restore cannot be compared for this kind. */
  fingerprintNote?: string;
}

/** Runs the shared suite for one driver. */
export function runDriverConformance(harness: DriverHarness): void {
  const cleanups: (() => Promise<void>)[] = [];
  let dir: string;
  let repo: Repository;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `shipshape-conformance-${harness.name}-`));
    // Sandboxes of server kinds run as their own OS user, which must be able to enter it.
    await chmod(dir, 0o711);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function freshRepo(): Promise<Repository> {
    const root = await mkdtemp(join(dir, 'repo-'));
    repo = await Repository.init(openFsBackend(join(root, 'r')), PASSWORD, FAST);
    cleanups.push(() => repo.close());
    return repo;
  }

  async function made(make: () => Promise<MadeTarget>): Promise<Target> {
    const result = await make();
    cleanups.push(result.drop);
    return result.target;
  }

  async function seededBackup(): Promise<{ source: Target; snapshotId: string }> {
    const source = await made(harness.empty);
    await harness.seed(source);
    const repository = await freshRepo();
    const sink = repositorySink(repository, { name: source.name, kind: harness.driver.kind });
    const outcome = await harness.driver.backup(source, sink, { fingerprint: 'full' });
    return { source, snapshotId: outcome.snapshot.snapshotId };
  }

  describe(`driver conformance: ${harness.name}`, () => {
    it('backs up awkward data and restores it into an empty target with an equal fingerprint', async () => {
      const source = await made(harness.empty);
      await harness.seed(source);
      const live = await harness.driver.fingerprint(source, 'full');
      for (const entry of harness.expectEntries) expect(Object.keys(live.entries)).toContain(entry);

      const repository = await freshRepo();
      const sink = repositorySink(repository, { name: source.name, kind: harness.driver.kind });
      const outcome = await harness.driver.backup(source, sink, { fingerprint: 'full' });
      expect(outcome.fingerprint?.digest).toBe(live.digest);
      expect(outcome.consistentPoint.sourceTime).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(outcome.identity).toEqual(await harness.driver.identity(source));

      const [stored] = await repository.snapshots({ source: source.name });
      expect(stored?.id).toBe(outcome.snapshot.snapshotId);
      expect(stored?.manifest.source).toMatchObject({
        type: 'datastore',
        kind: harness.driver.kind,
      });
      expect(stored?.manifest.consistentPoint).toEqual(outcome.consistentPoint);
      const recorded = fingerprintFromManifest(stored?.manifest.fingerprints);
      expect(recorded?.digest).toBe(live.digest);

      const target = await made(harness.empty);
      const reader = await repositoryReader(repository, 'latest', { source: source.name });
      await harness.driver.restore(reader, target);
      const restored = await harness.driver.fingerprint(target, 'full');
      expect(compareFingerprints(recorded!, restored)).toEqual({
        equal: true,
        changed: [],
        missing: [],
        extra: [],
      });
      const counts = await harness.driver.fingerprint(target, 'counts');
      expect(counts.digest).toBe((await harness.driver.fingerprint(source, 'counts')).digest);
    });

    it('fingerprints change when the data changes, and name what changed', async () => {
      const source = await made(harness.empty);
      await harness.seed(source);
      const before = await harness.driver.fingerprint(source, 'full');
      await harness.driver.fingerprint(source, 'full').then((again) => {
        expect(again.digest).toBe(before.digest);
      });
      await harness.change(source);
      const after = await harness.driver.fingerprint(source, 'full');
      const diff = compareFingerprints(before, after);
      expect(diff.equal).toBe(false);
      expect([...diff.changed, ...diff.extra, ...diff.missing].length).toBeGreaterThan(0);
    });

    it('refuses to restore into a non-empty target without force, and replaces it with force', async () => {
      const { source, snapshotId } = await seededBackup();
      const target = await made(harness.empty);
      await harness.seed(target);
      await harness.change(target);
      const changed = await harness.driver.fingerprint(target, 'full');
      const reader = await repositoryReader(repo, snapshotId);
      const error = await harness.driver.restore(reader, target).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isShipError(error)).toBe(true);
      expect((error as ShipError).code).toBe('SHIP_DATASTORE_TARGET_NOT_EMPTY');
      expect((error as ShipError).exitCode).toBe(2);
      expect((error as ShipError).hint).toMatch(/--force/);
      // Refused means untouched.
      expect((await harness.driver.fingerprint(target, 'full')).digest).toBe(changed.digest);

      await harness.driver.restore(reader, target, { force: true });
      expect((await harness.driver.fingerprint(target, 'full')).digest).toBe(
        (await harness.driver.fingerprint(source, 'full')).digest,
      );
    });

    it.skipIf(harness.sandboxSkip !== undefined)(
      `starts a sandbox holding the snapshot's data and removes it${harness.sandboxSkip === undefined ? '' : ` (skipped: ${harness.sandboxSkip})`}`,
      async () => {
        const { source, snapshotId } = await seededBackup();
        const reader = await repositoryReader(repo, snapshotId);
        const sandbox = await harness.driver.sandbox(reader, { baseDir: dir });
        try {
          expect((await harness.driver.fingerprint(sandbox.target, 'full')).digest).toBe(
            (await harness.driver.fingerprint(source, 'full')).digest,
          );
        } finally {
          await sandbox.stop();
          await sandbox.stop();
        }
        await expect(harness.driver.fingerprint(sandbox.target, 'counts')).rejects.toThrow();
      },
    );

    for (const fault of harness.faults) {
      it(`fails cleanly (${fault.code}, no snapshot, no secret) when ${fault.name}`, async () => {
        const repository = await freshRepo();
        try {
          const target = await made(fault.make);
          const sink = repositorySink(repository, { name: target.name, kind: harness.driver.kind });
          const error = await harness.driver.backup(target, sink, { fingerprint: 'counts' }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isShipError(error), String(error)).toBe(true);
          const shipError = error as ShipError;
          expect(shipError.code, shipError.message).toBe(fault.code);
          expect(shipError.exitCode).toBeGreaterThanOrEqual(2);
          if (fault.secret !== undefined) {
            expect(JSON.stringify(shipError.toJSON())).not.toContain(fault.secret);
            expect(shipError.message).not.toContain(fault.secret);
          }
          expect(await repository.snapshots()).toEqual([]);
        } finally {
          fault.after?.();
        }
      });
    }
  });
}
