import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, arch, hostname, platform, release } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

import {
  ExitCode,
  ShipError,
  VERSION,
  isShipError,
  isSimulatedCrash,
  redact,
  type ExitCodeValue,
} from '../core/index.js';
import {
  checkFingerprint,
  describeMismatch,
  driverFor,
  repositoryReader,
  withDatastoreRepository,
  type Sandbox,
  type SnapshotReader,
  type Target,
} from '../datastores/index.js';
import { allocatePorts, startProcess, type RunningProcess } from '../process/index.js';
import type { StoredSnapshot } from '../repo/index.js';

import { DrillClock, phaseWithout } from './clock.js';
import { humanDuration } from './format.js';
import { runHttpChecks } from './http-checks.js';
import { runIntegrityChecks } from './integrity-checks.js';
import type { DrillContext, PreparedDatastore, PreparedDrill } from './plan.js';
import { drillRefsIn, serviceEnvironment } from './service-env.js';
import type {
  CheckResult,
  DatastoreOutcome,
  DrillError,
  DrillResult,
  DrillVerdict,
  FingerprintResult,
  KeptSandboxOutcome,
  ObjectiveResult,
  PhaseTiming,
  ServiceOutcome,
} from './types.js';

/** Test hooks: places where a test injects a fault into a real drill. */
export interface DrillHooks {
  /** After a data store's copy is restored and before it is verified. */
  afterRestore?: (datastore: string, target: Target) => Promise<void>;
}

/** Options of {@link runDrill}. */
export interface DrillRunOptions {
  /** Aborted on SIGINT/SIGTERM: the step in flight finishes, then everything is torn down. */
  signal?: AbortSignal;
  /** One line per step, for progress on a terminal. */
  onProgress?: (line: string) => void;
  /** Directory for the service's log (the drill's folder under `.shipshape/drills/`). */
  logDir: string;
  /** Parallel jobs per restore where the tool supports them (`pg_restore -j`). @default 2 */
  jobs?: number;
  hooks?: DrillHooks;
  /**
   * The drill's stopwatch, started when the disaster was declared (before planning, which is
   * part of recovering). @default a clock started now
   */
  clock?: DrillClock;
}

/**
 * Test latch: with `SHIPSHAPE_DRILL_PAUSE_AT=<phase>` and `SHIPSHAPE_DRILL_PAUSE_FILE=<path>`, the
 * first data store (or the service) to reach `phase` writes `path` and waits until the drill is
 * interrupted or the file is removed. Interruption tests use it instead of sleeping.
 */
export const PAUSE_AT_ENV = 'SHIPSHAPE_DRILL_PAUSE_AT';
export const PAUSE_FILE_ENV = 'SHIPSHAPE_DRILL_PAUSE_FILE';

interface StoreRun {
  readonly prepared: PreparedDatastore;
  readonly phases: PhaseTiming[];
  sandbox?: Sandbox;
  target?: Target;
  snapshot?: StoredSnapshot;
  fingerprint: FingerprintResult | null;
  checks: CheckResult[];
  recoveredMs: number | null;
  error?: DrillError;
  errorExit?: ExitCodeValue;
  kept?: KeptSandboxOutcome;
}

function drillError(error: unknown): { error: DrillError; exitCode: ExitCodeValue } {
  if (isShipError(error)) {
    return {
      error: {
        code: error.code,
        message: redact(error.message),
        ...(error.hint === undefined ? {} : { hint: redact(error.hint) }),
      },
      exitCode: error.exitCode,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    error: { code: 'SHIP_DRILL_FAILED', message: redact(message) },
    exitCode: ExitCode.runtime,
  };
}

function interruptedError(): ShipError {
  return new ShipError('SHIP_DRILL_INTERRUPTED', 'the drill was interrupted', {
    exitCode: ExitCode.interrupted,
    hint: 'sandboxes and the service were stopped; run the drill again to get a result',
  });
}

/** A reader that notes when the snapshot's bytes start and stop flowing (the fetch phase). */
function timedReader(
  reader: SnapshotReader,
  clock: DrillClock,
  span: { startMs?: number; endMs?: number },
): SnapshotReader {
  const time = async (work: () => Promise<void>) => {
    span.startMs ??= clock.elapsed();
    try {
      await work();
    } finally {
      span.endMs = clock.elapsed();
    }
  };
  return {
    snapshot: reader.snapshot,
    stream: (out: Writable) => time(() => reader.stream(out)),
    tree: (dir, options) => time(() => reader.tree(dir, options)),
  };
}

class Latch {
  private readonly phase: string | undefined;
  private readonly file: string | undefined;
  private used = false;

  constructor(
    env: NodeJS.ProcessEnv,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.phase = env[PAUSE_AT_ENV];
    this.file = env[PAUSE_FILE_ENV];
  }

  async reach(phase: string): Promise<void> {
    if (this.used || this.phase !== phase || this.file === undefined) return;
    this.used = true;
    const file = this.file;
    await writeFile(file, `${phase}\n`);
    while (existsSync(file) && this.signal?.aborted !== true) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 25);
        this.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }
}

/**
 * Runs a prepared drill: restores every data store in parallel (sandbox or DR target), verifies
 * each copy's fingerprint and integrity checks, starts the service on the restored data and runs
 * its HTTP checks, then tears everything down (sandboxes stay with `keep`). Never throws for a
 * failed drill: the result says what failed and why. Throws only when nothing could be measured
 * (a programming error), and rethrows simulated crashes.
 */
export async function runDrill(
  prepared: PreparedDrill,
  context: DrillContext,
  options: DrillRunOptions,
): Promise<DrillResult> {
  const clock = options.clock ?? new DrillClock();
  const { plan } = prepared;
  const progress = options.onProgress ?? (() => undefined);
  const latch = new Latch(context.env, options.signal);
  const aborted = () => options.signal?.aborted === true;
  const stopIfAborted = () => {
    if (aborted()) throw interruptedError();
  };
  options.signal?.addEventListener('abort', () => {
    clock.mark('interrupted');
  });
  clock.mark('planned: restoring');

  const runStore = async (store: PreparedDatastore): Promise<StoreRun> => {
    const { planned } = store;
    const run: StoreRun = {
      prepared: store,
      phases: [],
      fingerprint: null,
      checks: [],
      recoveredMs: null,
    };
    const driver = driverFor(planned.kind);
    try {
      stopIfAborted();
      await latch.reach('fetch');
      stopIfAborted();
      // fetch+decrypt: opening the repository (key derivation, index) and reading the
      // snapshot's bytes; restore: the rest of the driver's work (a sandbox server's start, the
      // load), which may run while the bytes are read.
      const fetch: { startMs?: number; endMs?: number } = {};
      const openStart = clock.elapsed();
      let openEnd: number | undefined;
      let restored = false;
      try {
        progress(`${planned.name}: restoring snapshot ${planned.snapshot.id.slice(0, 12)}`);
        await withDatastoreRepository(planned.name, context, async (repo) => {
          const reader = await repositoryReader(repo, planned.snapshot.id, {
            source: planned.name,
          });
          openEnd = clock.elapsed();
          run.snapshot = reader.snapshot;
          const timed = timedReader(reader, clock, fetch);
          const jobs = options.jobs === undefined ? {} : { jobs: options.jobs };
          if (store.target !== undefined) {
            // A DR target is named in the spec for this purpose and was checked not to be
            // production: its old contents (an earlier drill) are replaced.
            await driver.restore(timed, store.target, { force: true, ...jobs });
            run.target = store.target;
          } else {
            run.sandbox = await driver.sandbox(timed, jobs);
            run.target = run.sandbox.target;
          }
        });
        restored = true;
      } finally {
        const callEnd = clock.elapsed();
        const opened = openEnd ?? callEnd;
        const streamMs = fetch.startMs === undefined ? 0 : (fetch.endMs ?? callEnd) - fetch.startMs;
        const fetchMs = opened - openStart + streamMs;
        run.phases.push({
          phase: 'fetch',
          startMs: openStart,
          endMs: fetch.endMs ?? opened,
          durationMs: Math.round(fetchMs * 10) / 10,
          ok: restored || (openEnd !== undefined && fetch.endMs !== undefined),
        });
        run.phases.push(
          phaseWithout('restore', { startMs: opened, endMs: callEnd }, streamMs, restored),
        );
      }
      clock.mark(`${planned.name} restored`);
      const target = run.target;
      const snapshot = run.snapshot;
      if (target === undefined || snapshot === undefined) throw new Error('restore left no target');
      await options.hooks?.afterRestore?.(planned.name, target);
      await latch.reach('verify');
      stopIfAborted();
      progress(`${planned.name}: verifying the fingerprint`);
      run.fingerprint = await clock.phase(
        'verify',
        run.phases,
        () => checkFingerprint(driver, target, snapshot),
        (check) => check.state !== 'mismatch',
      );
      const checks = store.datastore.integrity?.checks ?? [];
      if (checks.length > 0) {
        stopIfAborted();
        progress(`${planned.name}: running ${checks.length} integrity check(s)`);
        run.checks = await clock.phase(
          'checks',
          run.phases,
          () => runIntegrityChecks(planned.kind, target, checks),
          (results) => results.every((r) => r.passed),
        );
      }
      if (run.fingerprint.state !== 'mismatch' && run.checks.every((c) => c.passed)) {
        run.recoveredMs = clock.elapsed();
        clock.mark(`${planned.name} verified`);
      }
    } catch (error) {
      if (isSimulatedCrash(error)) throw error;
      const failure = drillError(error);
      run.error = failure.error;
      run.errorExit = failure.exitCode;
      clock.mark(`${planned.name} failed: ${failure.error.code}`);
    }
    return run;
  };

  const storeRuns = await Promise.all(prepared.datastores.map(runStore));

  let service: ServiceOutcome | null = null;
  let serviceExit: ExitCodeValue | undefined;
  let running: RunningProcess | undefined;
  const servicePhases: PhaseTiming[] = [];
  let serviceRecoveredMs: number | null = null;
  if (prepared.service !== undefined) {
    const spec = prepared.service.spec;
    const logFile = join(options.logDir, 'service.log');
    const outcome: { port: number | null; checks: CheckResult[]; error?: DrillError } = {
      port: null,
      checks: [],
    };
    const storesOk = storeRuns.every((r) => r.error === undefined && r.target !== undefined);
    if (!storesOk) {
      outcome.error = {
        code: 'SHIP_DRILL_SERVICE_SKIPPED',
        message: 'the service was not started: not every data store was restored',
      };
    } else {
      try {
        stopIfAborted();
        await latch.reach('start');
        stopIfAborted();
        const { port } = await allocatePorts(['port']);
        outcome.port = port;
        const connections = new Map(
          storeRuns.flatMap((r) =>
            r.target === undefined ? [] : [[r.prepared.planned.name, r.target.connection] as const],
          ),
        );
        const env = serviceEnvironment(spec.env, { port, connections }, context);
        await mkdir(options.logDir, { recursive: true });
        progress(`service: starting \`${spec.command}\` on port ${port}`);
        running = await clock.phase('start', servicePhases, () =>
          startProcess({
            name: `service ${plan.serviceName}`,
            command: spec.command,
            cwd: prepared.service?.cwd ?? context.baseDir,
            env: { SHIPSHAPE_DRILL_ID: plan.id, ...env },
            baseEnv: context.env,
            // Without a health path, a service given `${drill:port}` is ready once it accepts
            // connections there; otherwise once it is running.
            ...(spec.health !== undefined
              ? { health: { http: `http://127.0.0.1:${port}${spec.health}` } }
              : drillRefsIn(spec.env).includes('port')
                ? { health: { tcp: port } }
                : {}),
            startTimeoutMs: spec.start_timeout,
            stopTimeoutMs: spec.stop_timeout,
            logFile,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          }),
        );
        clock.mark('service healthy');
        await latch.reach('smoke');
        stopIfAborted();
        if (spec.checks.length > 0) {
          progress(`service: running ${spec.checks.length} HTTP check(s)`);
          outcome.checks = await clock.phase(
            'smoke',
            servicePhases,
            () =>
              runHttpChecks(`http://127.0.0.1:${port}`, spec.checks, {
                baseDir: context.baseDir,
                env: context.env,
              }),
            (results) => results.every((c) => c.passed),
          );
        }
        if (outcome.checks.every((c) => c.passed)) {
          serviceRecoveredMs = clock.elapsed();
          clock.mark('service verified');
        }
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        const failure = drillError(error);
        outcome.error = failure.error;
        serviceExit = failure.exitCode;
        clock.mark(`service failed: ${failure.error.code}`);
      }
    }
    service = {
      command: spec.command,
      port: outcome.port,
      phases: servicePhases,
      checks: outcome.checks,
      logTail: running?.logTail(4096) ?? '',
      logFile: existsSync(logFile) ? logFile : null,
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
    };
  }

  // Teardown: outside the RTO, measured all the same.
  const teardownPhases: PhaseTiming[] = [];
  if (running !== undefined) {
    const proc = running;
    await clock.phase('teardown', teardownPhases, async () => {
      await proc.stop();
    });
    if (service !== null) {
      service = {
        ...service,
        logTail: proc.logTail(4096),
        phases: [...service.phases, ...teardownPhases],
      };
    }
  }
  await Promise.all(
    storeRuns.map(async (run) => {
      const sandbox = run.sandbox;
      if (sandbox === undefined) return;
      // An interrupted drill is torn down even with --keep: Ctrl-C means stop everything.
      if (plan.keep && !aborted()) {
        try {
          const kept = await sandbox.keep();
          run.kept = {
            connection: redact(kept.connection),
            stop: redact(kept.stop),
            ...(kept.pid === undefined ? {} : { pid: kept.pid }),
            dataDir: kept.dataDir,
          };
          return;
        } catch (error) {
          if (isSimulatedCrash(error)) throw error;
          const failure = drillError(error);
          run.error ??= {
            code: failure.error.code,
            message: `the sandbox could not be kept, so it is removed: ${failure.error.message}`,
          };
        }
      }
      try {
        await clock.phase('teardown', run.phases, () => sandbox.stop());
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        const failure = drillError(error);
        run.error ??= {
          code: failure.error.code,
          message: `the sandbox could not be removed: ${failure.error.message}`,
        };
      }
    }),
  );
  clock.mark('torn down');

  return assembleResult(prepared, storeRuns, service, serviceRecoveredMs, clock, {
    interrupted: aborted(),
    ...(serviceExit === undefined ? {} : { serviceExit }),
  });
}

function objective(
  objectiveMs: number | undefined,
  measuredMs: number | null,
): ObjectiveResult | undefined {
  if (objectiveMs === undefined) return undefined;
  return { objectiveMs, measuredMs, met: measuredMs !== null && measuredMs <= objectiveMs };
}

function checkReason(where: string, check: CheckResult): string {
  return `${where}: check ${check.name} failed: expected ${check.expected}, got ${check.actual}`;
}

function assembleResult(
  prepared: PreparedDrill,
  storeRuns: readonly StoreRun[],
  service: ServiceOutcome | null,
  serviceRecoveredMs: number | null,
  clock: DrillClock,
  flags: { interrupted: boolean; serviceExit?: ExitCodeValue },
): DrillResult {
  const { plan } = prepared;
  const reasons: string[] = [];
  let hardError = flags.interrupted;
  const datastores: DatastoreOutcome[] = storeRuns.map((run) => {
    const { planned } = run.prepared;
    if (run.error !== undefined) {
      if (run.error.code !== 'SHIP_DRILL_INTERRUPTED') {
        reasons.push(`${planned.name}: ${run.error.code}: ${run.error.message}`);
      }
      if ((run.errorExit ?? ExitCode.runtime) !== ExitCode.gateFailed) hardError = true;
    }
    if (run.fingerprint?.state === 'mismatch') {
      reasons.push(
        `${planned.name}: the restored data differs from the snapshot: ${describeMismatch({ ...run.fingerprint, changed: [...run.fingerprint.changed], missing: [...run.fingerprint.missing], extra: [...run.fingerprint.extra] })}`,
      );
    }
    for (const check of run.checks)
      if (!check.passed) reasons.push(checkReason(planned.name, check));
    const rto = objective(planned.objectives.rtoMs, run.recoveredMs);
    const rpo = objective(planned.objectives.rpoMs, planned.rpoMs);
    if (rto !== undefined && !rto.met && run.recoveredMs !== null) {
      reasons.push(
        `${planned.name}: RTO objective missed: recovered after ${humanDuration(run.recoveredMs)}, objective ${humanDuration(rto.objectiveMs)}`,
      );
    }
    if (rpo !== undefined && !rpo.met) {
      reasons.push(
        `${planned.name}: RPO objective missed: ${humanDuration(planned.rpoMs)} of data would be lost (disaster ${plan.disasterAt}, consistent at ${planned.snapshot.consistentAt ?? planned.snapshot.time}), objective ${humanDuration(rpo.objectiveMs)}`,
      );
    }
    const consistentAt = planned.snapshot.consistentAt;
    return {
      name: planned.name,
      kind: planned.kind,
      snapshot: planned.snapshot,
      placement: planned.placement,
      phases: run.phases,
      recoveredMs: run.recoveredMs,
      rpoMs: planned.rpoMs,
      clockSkewBoundMs:
        consistentAt === null ? null : Date.parse(planned.snapshot.time) - Date.parse(consistentAt),
      fingerprint: run.fingerprint,
      checks: run.checks,
      objectives: {
        ...(rto === undefined ? {} : { rto }),
        ...(rpo === undefined ? {} : { rpo }),
      },
      ...(run.kept === undefined ? {} : { kept: run.kept }),
      ...(run.error === undefined ? {} : { error: run.error }),
    };
  });

  if (service !== null) {
    if (service.error !== undefined && service.error.code !== 'SHIP_DRILL_SERVICE_SKIPPED') {
      if (service.error.code !== 'SHIP_DRILL_INTERRUPTED') {
        reasons.push(`service: ${service.error.code}: ${service.error.message}`);
      }
      // A service that does not come up on the restored data fails the drill; a missing
      // command or an interruption is an error of the drill itself.
      if (
        flags.serviceExit === ExitCode.interrupted ||
        service.error.code === 'SHIP_PROCESS_NOT_FOUND' ||
        service.error.code === 'SHIP_DRILL_BAD_REFERENCE'
      ) {
        hardError = true;
      }
    }
    for (const check of service.checks)
      if (!check.passed) reasons.push(checkReason('service', check));
  }

  const allStoresRecovered = datastores.every((d) => d.recoveredMs !== null);
  let rtoMs: number | null = null;
  if (allStoresRecovered && !flags.interrupted) {
    const storesMs = Math.max(0, ...datastores.map((d) => d.recoveredMs ?? 0));
    rtoMs = service === null ? storesMs : serviceRecoveredMs;
  }
  const rpoMs = Math.max(0, ...datastores.map((d) => d.rpoMs));
  const rto = objective(plan.objectives.rtoMs, rtoMs);
  const rpo = objective(plan.objectives.rpoMs, rpoMs);
  if (rto !== undefined && !rto.met && rtoMs !== null) {
    reasons.push(
      `RTO objective missed: recovered after ${humanDuration(rtoMs)}, objective ${humanDuration(rto.objectiveMs)} (${plan.objectives.rtoFrom ?? 'drill.objectives'})`,
    );
  }
  if (rpo !== undefined && !rpo.met) {
    reasons.push(
      `RPO objective missed: ${humanDuration(rpoMs)} of data would be lost, objective ${humanDuration(rpo.objectiveMs)} (${plan.objectives.rpoFrom ?? 'drill.objectives'})`,
    );
  }
  if (flags.interrupted) reasons.unshift('the drill was interrupted before it finished');

  const verdict: DrillVerdict = hardError ? 'error' : reasons.length > 0 ? 'failed' : 'passed';
  const tools: Record<string, string> = {};
  for (const store of datastores) {
    for (const [tool, version] of Object.entries(store.snapshot.toolVersions))
      tools[tool] = version;
  }
  return {
    plan,
    verdict,
    reasons,
    finishedAt: new Date().toISOString(),
    rtoMs,
    rpoMs,
    elapsedMs: clock.elapsed(),
    objectives: {
      ...(rto === undefined ? {} : { rto }),
      ...(rpo === undefined ? {} : { rpo }),
    },
    datastores,
    service,
    timeline: clock.timeline,
    environment: {
      host: hostname(),
      platform: `${platform()} ${release()} ${arch()}`,
      cpus: availableParallelism(),
      node: process.version,
      shipshape: VERSION,
      tools,
    },
    ...(flags.interrupted ? { interrupted: true } : {}),
  };
}

/** The exit code of a drill: 0 passed, 1 failed, else the first error's (3, 130…). */
export function drillExitCode(result: DrillResult): ExitCodeValue {
  if (result.verdict === 'passed') return ExitCode.ok;
  if (result.interrupted === true) return ExitCode.interrupted;
  if (result.verdict === 'failed') return ExitCode.gateFailed;
  return ExitCode.runtime;
}
