import type { DrillRun } from './evidence.js';
import { objectivesMet } from './format.js';
import type { DrillVerdict } from './types.js';

/** One data store's figures in one drill. */
export interface DrillHistoryStore {
  readonly name: string;
  readonly kind: string;
  /** Declared → this store restored and verified; null when it was not. */
  readonly rtoMs: number | null;
  readonly rpoMs: number;
  readonly rtoObjectiveMs: number | null;
  readonly rpoObjectiveMs: number | null;
  /** Null when the store has no objectives. */
  readonly objectivesMet: boolean | null;
  readonly restoredBytes: number;
  readonly snapshotId: string;
}

/** One drill in `drill history`. */
export interface DrillHistoryRow {
  /** When the drill was declared. */
  readonly time: string;
  readonly runId: string;
  readonly verdict: DrillVerdict;
  readonly interrupted: boolean;
  readonly simulated: boolean;
  readonly environment: string;
  readonly rtoMs: number | null;
  readonly rpoMs: number;
  readonly rtoObjectiveMs: number | null;
  readonly rpoObjectiveMs: number | null;
  /** Null when the drill had no objectives. */
  readonly objectivesMet: boolean | null;
  readonly seq: number;
  readonly hash: string;
  /** Every data store of the drill, or only the one asked for. */
  readonly datastores: readonly DrillHistoryStore[];
}

export interface DrillHistoryOptions {
  /** Only drills that restored this data store, with its figures only. */
  readonly datastore?: string;
  /** Only the newest `limit` drills. @default all */
  readonly limit?: number;
}

/**
 * RTO and RPO over time: one row per recorded drill, oldest first (the newest `limit` when
 * given), with per data store figures.
 *
 * @example drillHistory((await readDrillRuns(ledger)).runs, { datastore: 'orders', limit: 20 })
 */
export function drillHistory(
  runs: readonly DrillRun[],
  options: DrillHistoryOptions = {},
): DrillHistoryRow[] {
  const rows = runs.flatMap((run): DrillHistoryRow[] => {
    const { result } = run;
    const stores = result.datastores
      .filter((store) => options.datastore === undefined || store.name === options.datastore)
      .map((store): DrillHistoryStore => {
        const objectives = [store.objectives.rto, store.objectives.rpo].filter(
          (o) => o !== undefined,
        );
        return {
          name: store.name,
          kind: store.kind,
          rtoMs: store.recoveredMs,
          rpoMs: store.rpoMs,
          rtoObjectiveMs: store.objectives.rto?.objectiveMs ?? null,
          rpoObjectiveMs: store.objectives.rpo?.objectiveMs ?? null,
          objectivesMet: objectives.length === 0 ? null : objectives.every((o) => o.met),
          restoredBytes: store.snapshot.bytes,
          snapshotId: store.snapshot.id,
        };
      });
    if (options.datastore !== undefined && stores.length === 0) return [];
    return [
      {
        time: result.plan.declaredAt,
        runId: result.plan.id,
        verdict: result.verdict,
        interrupted: result.interrupted === true,
        simulated: result.plan.simulated,
        environment: result.plan.environment,
        rtoMs: result.rtoMs,
        rpoMs: result.rpoMs,
        rtoObjectiveMs: result.plan.objectives.rtoMs ?? null,
        rpoObjectiveMs: result.plan.objectives.rpoMs ?? null,
        objectivesMet: objectivesMet(result),
        seq: run.ledger.seq,
        hash: run.ledger.hash,
        datastores: stores,
      },
    ];
  });
  return options.limit === undefined ? rows : rows.slice(Math.max(0, rows.length - options.limit));
}
