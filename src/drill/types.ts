import type { DatastoreKind } from '../spec/index.js';

/**
 * The contract between the parts of a DR drill: the plan (what will be restored where), the
 * result (what happened, measured), and the pieces the report and history read back from the
 * ledger. Every time is an ISO 8601 instant; every duration is milliseconds measured with a
 * monotonic clock (`performance.now()`), relative to the moment the drill was declared.
 */

/**
 * Phases of a drill. Per data store: `fetch` (read and decrypt the snapshot from the repository),
 * `restore` (load it into the sandbox or DR target, including starting a sandbox server),
 * `verify` (fingerprint compared with the manifest's), `checks` (integrity checks from the spec).
 * For the service: `start` (process started until healthy) and `smoke` (HTTP checks).
 * `teardown` (sandboxes and service stopped) is measured but is not part of the RTO.
 */
export const DRILL_PHASES = [
  'fetch',
  'restore',
  'verify',
  'checks',
  'start',
  'smoke',
  'teardown',
] as const;
export type DrillPhase = (typeof DRILL_PHASES)[number];

/** One timed phase: offsets from the drill's declaration, monotonic. */
export interface PhaseTiming {
  readonly phase: DrillPhase;
  readonly startMs: number;
  readonly endMs: number;
  readonly durationMs: number;
  /** Did the phase complete without error (a failed check still completes its phase). */
  readonly ok: boolean;
}

/** Where a data store is restored during a drill. */
export type Placement =
  | { readonly kind: 'sandbox' }
  /** A DR target from `drill.targets`; `target` is the connection with secrets redacted. */
  | { readonly kind: 'target'; readonly target: string };

/** The snapshot a drill restores for one data store, as the plan fixes it. */
export interface PlannedSnapshot {
  readonly id: string;
  /** When the snapshot was written (backup host's clock). */
  readonly time: string;
  /** When its data is consistent as of (the source server's clock), or null if unknown. */
  readonly consistentAt: string | null;
  /** The source's consistent point (LSN, binlog position, replication offset), if recorded. */
  readonly consistentPoint: { readonly kind: string; readonly value: string } | null;
  /** Logical size in bytes (what is restored). */
  readonly bytes: number;
  /** Backup host. */
  readonly host: string;
  /** Fingerprint in the manifest, or null with `fingerprint: off`. */
  readonly fingerprint: { readonly mode: 'counts' | 'full'; readonly digest: string } | null;
  readonly toolVersions: Readonly<Record<string, string>>;
}

/** Recovery objectives in milliseconds; absent when the spec sets none. */
export interface Objectives {
  readonly rtoMs?: number;
  readonly rpoMs?: number;
}

/** One data store in a drill plan. */
export interface PlannedDatastore {
  readonly name: string;
  readonly kind: DatastoreKind;
  readonly repository: string;
  readonly snapshot: PlannedSnapshot;
  readonly placement: Placement;
  /** Names of the integrity checks (from `datastores.<name>.integrity.checks`). */
  readonly checks: readonly string[];
  /** The data store's own `objectives`. */
  readonly objectives: Objectives;
  /** Disaster time − consistent point (or snapshot time when no consistent point is known). */
  readonly rpoMs: number;
}

/** What a drill will do, fixed before anything is restored. `drill plan` prints it. */
export interface DrillPlan {
  /** Run id, e.g. `20261122T130500Z-3fa4c2`: sortable, unique, safe in a file name. */
  readonly id: string;
  /** `service.name` of the spec. */
  readonly serviceName: string;
  readonly environment: string;
  /** When the drill was declared (host clock): the RTO clock starts here. */
  readonly declaredAt: string;
  /** The simulated disaster time: `--at`, or `declaredAt`. RPO is measured against it. */
  readonly disasterAt: string;
  /** True when `--at` set the disaster time. */
  readonly simulated: boolean;
  /**
   * Service-wide objectives: `drill.objectives`, with the RTO defaulting to the smallest data
   * store RTO objective (`rtoFrom` says which).
   */
  readonly objectives: Objectives & { readonly rtoFrom?: string; readonly rpoFrom?: string };
  readonly datastores: readonly PlannedDatastore[];
  /** The service smoke test, when `drill.service` is set. */
  readonly service: {
    readonly command: string;
    readonly cwd: string;
    readonly health: string | null;
    readonly checks: readonly string[];
  } | null;
  /** Leave sandboxes (and nothing else) running afterwards. */
  readonly keep: boolean;
}

/** The result of one check: an integrity check (SQL, Redis key) or an HTTP smoke check. */
export interface CheckResult {
  readonly name: string;
  readonly kind: 'sql' | 'key' | 'http';
  readonly passed: boolean;
  /** What was expected, readable: `= 0`, `>= 1`, `status 200, body contains "orders"`. */
  readonly expected: string;
  /** What was found, readable (truncated to 200 characters), or the error. */
  readonly actual: string;
  readonly durationMs: number;
}

/** An objective compared with its measurement. */
export interface ObjectiveResult {
  readonly objectiveMs: number;
  /** Null when the measurement could not be taken (the drill failed before recovery). */
  readonly measuredMs: number | null;
  readonly met: boolean;
}

/** An error that stopped part of a drill, without secrets. */
export interface DrillError {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** The fingerprint comparison of a restored copy. */
export type FingerprintResult =
  | { readonly state: 'skipped'; readonly why: string }
  | {
      readonly state: 'match' | 'mismatch';
      readonly mode: 'counts' | 'full';
      readonly expected: string;
      readonly actual: string;
      readonly changed: readonly string[];
      readonly missing: readonly string[];
      readonly extra: readonly string[];
    };

/** A sandbox `drill run --keep` left running, for the operator to use and then remove. */
export interface KeptSandboxOutcome {
  /** How to connect, without a password: a socket URL (trust/socket auth), a file path. */
  readonly connection: string;
  /** Shell command that stops the sandbox and deletes its data. */
  readonly stop: string;
  /** Process id of the sandbox server, where there is one. */
  readonly pid?: number;
  /** Directory holding all of the sandbox (removed by `stop`). */
  readonly dataDir: string;
}

/** What happened to one data store in a drill. */
export interface DatastoreOutcome {
  readonly name: string;
  readonly kind: DatastoreKind;
  readonly snapshot: PlannedSnapshot;
  readonly placement: Placement;
  readonly phases: readonly PhaseTiming[];
  /** Declared → this store restored and verified (fingerprint and checks passed); null if not. */
  readonly recoveredMs: number | null;
  /** Disaster time − consistent point. */
  readonly rpoMs: number;
  /**
   * Host clock minus source clock, upper bound: snapshot written (host) − consistent point
   * (source). Negative means the source clock was ahead of the backup host.
   */
  readonly clockSkewBoundMs: number | null;
  readonly fingerprint: FingerprintResult | null;
  readonly checks: readonly CheckResult[];
  readonly objectives: { readonly rto?: ObjectiveResult; readonly rpo?: ObjectiveResult };
  /** A sandbox left running by `--keep`: how to reach it and how to remove it. */
  readonly kept?: KeptSandboxOutcome;
  readonly error?: DrillError;
}

/** What happened to the service in a drill. */
export interface ServiceOutcome {
  readonly command: string;
  readonly port: number | null;
  readonly phases: readonly PhaseTiming[];
  readonly checks: readonly CheckResult[];
  /** Last lines of the service's output (redacted). */
  readonly logTail: string;
  /** Where the full log was written. */
  readonly logFile: string | null;
  readonly error?: DrillError;
}

export const DRILL_VERDICTS = ['passed', 'failed', 'error'] as const;
export type DrillVerdict = (typeof DRILL_VERDICTS)[number];

/** Tool and machine facts, for the report. */
export interface DrillEnvironment {
  readonly host: string;
  readonly platform: string;
  readonly cpus: number;
  readonly node: string;
  readonly shipshape: string;
  /** Versions of the tools used to restore (pg_restore, redis-server…) and to back up. */
  readonly tools: Readonly<Record<string, string>>;
}

/** Everything a drill did and measured: stored as the `dr-drill` evidence's details. */
export interface DrillResult {
  readonly plan: DrillPlan;
  readonly verdict: DrillVerdict;
  /** Why it did not pass, one line each, naming the table, check or objective. */
  readonly reasons: readonly string[];
  readonly finishedAt: string;
  /** Declared → every verification passed (RTO); null when the drill did not recover. */
  readonly rtoMs: number | null;
  /** Largest data store RPO (the data the service would have lost). */
  readonly rpoMs: number;
  /** Declared → teardown finished. */
  readonly elapsedMs: number;
  readonly objectives: { readonly rto?: ObjectiveResult; readonly rpo?: ObjectiveResult };
  readonly datastores: readonly DatastoreOutcome[];
  readonly service: ServiceOutcome | null;
  /** Notable moments, in order: `orders restored`, `service healthy`, `SIGINT`. */
  readonly timeline: readonly { readonly atMs: number; readonly event: string }[];
  readonly environment: DrillEnvironment;
  /** Set when the drill was interrupted (SIGINT/SIGTERM) and cleaned up. */
  readonly interrupted?: boolean;
}
