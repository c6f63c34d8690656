import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import {
  armFailpoints,
  disarmFailpoints,
  failpointTrace,
  isSimulatedCrash,
} from '../../src/core/index.js';
import {
  FS_TEMP_PREFIX,
  Repository,
  deriveSubkeys,
  listLocks,
  openFsBackend,
  openKeyFile,
  parseKeyFileText,
  removeStaleLocks,
  type Backend,
  type CheckReport,
  type InitOptions,
  type RepoSubkeys,
} from '../../src/repo/index.js';
import { PowerLossFs, type PowerLossOptions } from '../helpers/power-loss.js';

/**
 * Crash enumeration: runs an operation once per failpoint hit, stops it there, optionally pulls
 * the plug (see PowerLossFs), then checks the repository the way an operator would recover it.
 * Deterministic: no timers, no randomness in which step is hit.
 */

export const PASSWORD = 'crash test password';

/** Cheap scrypt, small chunks and packs: many steps on little data. */
export const CRASH_REPO: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  packTargetBytes: 32 * 1024,
  workers: 1,
};

/** What a crash leaves on disk: everything the process wrote (`crash`), or only the fsynced (`power-loss`). */
export type CrashMode = 'crash' | 'power-loss';

export interface CrashScenario<Reference> {
  readonly name: string;
  /** Builds the base repository (real file system, no failpoints) that every crash starts from. */
  prepare(repo: Repository): Promise<void>;
  /** The operation to crash. Runs once uncrashed (`*=0`) to count its steps. */
  run(repo: Repository): Promise<Reference>;
  /** Content by source name of every snapshot that may exist after `run` (made or kept). */
  readonly contents: ReadonlyMap<string, Buffer>;
  /** Source names whose snapshots must exist after any crash (the completed ones). */
  readonly required: readonly string[];
  /**
   * After recovery: the next operation a user would run (e.g. the same backup again). Returns
   * the problems found, as messages; `reference` is what the uncrashed `run` returned.
   */
  followUp(repo: Repository, reference: Reference, step: CrashStep): Promise<string[]>;
}

/** Where a crash stopped the operation. */
export interface CrashStep {
  /** 1-based hit number (`SHIPSHAPE_FAILPOINTS='*=N'`). */
  readonly n: number;
  /** The failpoint's name. */
  readonly point: string;
  /** The steps completed before the crash, in order (the trace up to and including `point`). */
  readonly before: readonly string[];
}

export interface CrashFailure {
  readonly n: number;
  readonly point: string;
  readonly mode: CrashMode;
  readonly problems: readonly string[];
}

/** What one crash left after recovery (for the figures in the test output and the docs). */
export interface CrashOutcome {
  readonly n: number;
  readonly mode: CrashMode;
  readonly snapshots: number;
  readonly unindexedPacks: number;
  readonly tempFiles: number;
  readonly staleLocks: number;
}

export interface PreparedScenario<Reference> {
  readonly scenario: CrashScenario<Reference>;
  /** The base repository every run copies. */
  readonly base: string;
  /** Its folders and files, in walk order, copied into each run's folder. */
  readonly image: readonly ImageEntry[];
  /** The uncrashed run's failpoint trace. */
  readonly trace: readonly string[];
  readonly reference: Reference;
  readonly cleanup: () => Promise<void>;
}

/** Prepares the base repository once and records the operation's full trace (`*=0`). */
export async function prepareScenario<Reference>(
  scenario: CrashScenario<Reference>,
): Promise<PreparedScenario<Reference>> {
  const dir = await mkdtemp(join(tmpdir(), `shipshape-crash-${scenario.name}-`));
  const base = join(dir, 'base');
  const repo = await Repository.init(openFsBackend(base), PASSWORD, CRASH_REPO);
  // Pack names are hashes of sealed (randomly nonced) bytes, so which `data/<xx>` folder a new
  // pack needs to create varies from run to run. With all 256 present (as restic's init makes
  // them) the trace is the same every run; crashes around folder creation are covered by the
  // power-loss model's own tests.
  for (let i = 0; i < 256; i++) {
    await mkdir(join(base, 'data', i.toString(16).padStart(2, '0')), {
      recursive: true,
      mode: 0o700,
    });
  }
  try {
    await scenario.prepare(repo);
  } finally {
    await repo.close();
  }
  const work = join(dir, 'trace');
  await cp(base, work, { recursive: true });
  const traced = await Repository.open(openFsBackend(work), PASSWORD, CRASH_REPO);
  let reference: Reference;
  let trace: string[];
  try {
    armFailpoints('*=0');
    reference = await scenario.run(traced);
    trace = [...failpointTrace()];
  } finally {
    disarmFailpoints();
    await traced.close();
    await rm(work, { recursive: true, force: true });
  }
  return {
    scenario,
    base,
    image: await readImage(base),
    trace,
    reference,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Crashes the operation at hit `n` in `mode` on a fresh copy of the base repository, recovers,
 * and returns the outcome and the problems found (none when the repository survived).
 */
export async function crashAt<Reference>(
  prepared: PreparedScenario<Reference>,
  n: number,
  mode: CrashMode,
  disk: PowerLossOptions = {},
): Promise<{ outcome: CrashOutcome; failure: CrashFailure | undefined }> {
  const { scenario, trace } = prepared;
  const point = trace[n - 1] ?? '(beyond the trace)';
  const step: CrashStep = { n, point, before: trace.slice(0, n) };
  const dir = await mkdtemp(join(tmpdir(), `shipshape-crash-${scenario.name}-${n}-`));
  const problems: string[] = [];
  try {
    await writeImage(prepared.image, dir);
    const model = await PowerLossFs.start(dir, disk);
    const crashed = await Repository.open(
      openFsBackend(dir, { ops: model.ops }),
      PASSWORD,
      CRASH_REPO,
    );
    try {
      armFailpoints(`*=${n}`);
      // The process is dead once the armed point fired: nothing it does after reaches the disk.
      model.setDead(() => failpointTrace().length >= n);
      const error = await scenario.run(crashed).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      if (error === undefined) {
        problems.push(
          'the operation completed although its failpoint fired (a crash was swallowed)',
        );
      } else if (!isSimulatedCrash(error)) {
        problems.push(
          `the operation failed with ${describe(error)} instead of the simulated crash`,
        );
      }
      if (failpointTrace().join('\n') !== step.before.join('\n')) {
        problems.push(
          `the steps before the crash differ from the uncrashed run: ${failpointTrace().slice(-3).join(', ')}`,
        );
      }
    } finally {
      disarmFailpoints();
      model.setDead(() => false);
      await crashed.close();
    }
    if (mode === 'power-loss') await model.powerLoss();
    // A recovery step that throws (a snapshot that cannot be listed, a backup that fails) is a
    // failure of this point like any other, not the end of the enumeration.
    const outcome = await recover(prepared, dir, step, mode, problems).catch((error: unknown) => {
      problems.push(`recovery failed: ${describe(error)}`);
      return { n, mode, snapshots: -1, unindexedPacks: -1, tempFiles: -1, staleLocks: -1 };
    });
    return {
      outcome,
      failure: problems.length === 0 ? undefined : { n, point, mode, problems },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The recovery an operator runs, asserting the invariants on the way (problems are pushed). */
async function recover<Reference>(
  prepared: PreparedScenario<Reference>,
  dir: string,
  step: CrashStep,
  mode: CrashMode,
  problems: string[],
): Promise<CrashOutcome> {
  const { scenario } = prepared;
  const backend = openFsBackend(dir);
  const tempFiles = await countTempFiles(dir);
  const repo = await Repository.open(backend, PASSWORD, CRASH_REPO);
  try {
    // `repo unlock`: the crashed operation's locks name this process's pid, which (as far as the
    // simulation goes) died; nothing else may be judged stale or removed.
    const keys = await subkeys(backend, repo.keyId);
    const crashedPid = process.pid;
    const env = { isPidAlive: (pid: number) => pid !== crashedPid };
    const stale = await removeStaleLocks(backend, keys.encryption, env);
    for (const lock of stale) {
      if (!lock.readable || lock.pid !== crashedPid) {
        problems.push(`repo unlock removed a lock the crash did not leave: ${lock.id}`);
      }
    }
    const left = await listLocks(backend, keys.encryption, env);
    if (left.length > 0) problems.push(`${left.length} lock(s) left after repo unlock`);

    const report = await repo.check({ readData: true });
    if (!report.ok) problems.push(...describeCheck(report));

    // Every snapshot present restores byte for byte; every completed one is present.
    const snapshots = await repo.snapshots();
    const seen = new Set<string>();
    for (const snapshot of snapshots) {
      const name = snapshot.manifest.source.name ?? '';
      seen.add(name);
      const expected = scenario.contents.get(name);
      if (expected === undefined) {
        problems.push(`snapshot ${snapshot.id.slice(0, 12)} of unknown source "${name}"`);
        continue;
      }
      const restored = await restoreBytes(repo, snapshot.id).catch((error: unknown) => {
        problems.push(`snapshot ${name} does not restore: ${describe(error)}`);
        return undefined;
      });
      if (restored !== undefined && !restored.equals(expected)) {
        problems.push(
          `snapshot ${name} restores ${restored.length} bytes that differ from the original`,
        );
      }
    }
    for (const name of scenario.required) {
      if (!seen.has(name)) problems.push(`completed snapshot ${name} is gone`);
    }

    problems.push(...(await scenario.followUp(repo, prepared.reference, step)));
    return {
      n: step.n,
      mode,
      snapshots: snapshots.length,
      unindexedPacks: report.packs.unindexed.length,
      tempFiles,
      staleLocks: stale.length,
    };
  } finally {
    await repo.close();
  }
}

/** Every crash point of `prepared` in the given modes; returns the failures and outcomes. */
export async function enumerateCrashes<Reference>(
  prepared: PreparedScenario<Reference>,
  points: readonly number[],
  modes: readonly CrashMode[] = ['power-loss', 'crash'],
): Promise<{ failures: CrashFailure[]; outcomes: CrashOutcome[] }> {
  const failures: CrashFailure[] = [];
  const outcomes: CrashOutcome[] = [];
  for (const n of points) {
    for (const mode of modes) {
      const { outcome, failure } = await crashAt(prepared, n, mode);
      outcomes.push(outcome);
      if (failure !== undefined) failures.push(failure);
    }
  }
  return { failures, outcomes };
}

/** 1…count, or with `every` > 1 a fixed sample: every `every`-th point plus the first and last. */
export function crashPoints(count: number, every = 1): number[] {
  const points = new Set<number>();
  for (let n = 1; n <= count; n += every) points.add(n);
  if (count > 0) points.add(count);
  return [...points].sort((a, b) => a - b);
}

export async function restoreBytes(repo: Repository, snapshotId: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(Buffer.from(chunk));
      callback();
    },
  });
  await repo.restoreStream(snapshotId, out);
  return Buffer.concat(parts);
}

/** Feeds `data` in 8 KiB pieces, as a pipe would. */
export async function* pieces(data: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += 8192) {
    await Promise.resolve();
    yield data.subarray(at, at + 8192);
  }
}

/** Deterministic pseudo-random bytes (xorshift), so every run backs up the same data. */
export function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

type ImageEntry = { readonly path: string; readonly content: Buffer | undefined };

/** Reads a folder tree into memory (folders as `content: undefined`), parents first. */
async function readImage(root: string): Promise<ImageEntry[]> {
  const image: ImageEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      const path = join(rel, entry.name);
      if (entry.isDirectory()) {
        image.push({ path, content: undefined });
        await walk(path);
      } else if (entry.isFile()) {
        image.push({ path, content: await readFile(join(root, path)) });
      }
    }
  };
  await walk('');
  return image;
}

/** Writes an image into `root` (a fresh copy of the base repository; faster than `cp -r`). */
async function writeImage(image: readonly ImageEntry[], root: string): Promise<void> {
  for (const { path, content } of image) {
    if (content === undefined) await mkdir(join(root, path), { mode: 0o700 });
    else await writeFile(join(root, path), content, { mode: 0o600 });
  }
}

async function subkeys(backend: Backend, keyId: string): Promise<RepoSubkeys> {
  const text = (await backend.get('keys', keyId)).toString('utf8');
  return deriveSubkeys(await openKeyFile(parseKeyFileText(text, keyId), PASSWORD, { id: keyId }));
}

async function countTempFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((path) => path.split('/').at(-1)?.startsWith(FS_TEMP_PREFIX)).length;
}

function describeCheck(report: CheckReport): string[] {
  return [
    ...report.problems.map(
      (problem) => `check: ${problem.code} ${problem.object}: ${problem.message}`,
    ),
    ...report.snapshots.damaged.map(
      (snapshot) =>
        `check: snapshot ${snapshot.id.slice(0, 12)} damaged: ${snapshot.reasons.join('; ')}`,
    ),
  ];
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = 'code' in error ? ` ${String(error.code)}` : '';
    return `${error.name}${code}: ${error.message.split('\n')[0]}`;
  }
  return String(error);
}

/** One line per failure, naming the hit number and the step, for the assertion message. */
export function formatFailures(failures: readonly CrashFailure[]): string {
  return failures
    .map(
      (failure) =>
        `*=${failure.n} (${failure.point}, ${failure.mode}): ${failure.problems.join(' | ')}`,
    )
    .join('\n');
}
