import { ShipError, redact, redactDeep } from '../core/index.js';
import type {
  Artifact,
  GateResultInput,
  LedgerRecord,
  ListOptions,
  Measurement,
  NewEvidence,
} from '../ledger/index.js';
import { humanDuration, id12 } from './format.js';
import { parseDrillResult } from './result-schema.js';
import type { DrillResult } from './types.js';

/** The gate a drill's evidence is recorded under. */
export const DRILL_GATE = 'dr-drill';

const MAX_NAME = 64;
const MAX_SUMMARY = 2000;
const SNAPSHOT_ID = /^[0-9a-f]{64}$/;

/** The measurement name prefix of each data store: snake_case, unique, short enough for suffixes. */
function storePrefixes(names: readonly string[], taken: Set<string>): Map<string, string> {
  const suffixes = ['_rto_seconds', '_rpo_seconds', '_restored_bytes'];
  const room = MAX_NAME - Math.max(...suffixes.map((s) => s.length));
  const prefixes = new Map<string, string>();
  for (const name of names) {
    let base = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    if (!/^[a-z]/.test(base)) base = `s_${base}`;
    base = base.slice(0, room);
    let prefix = base;
    for (let n = 2; suffixes.some((s) => taken.has(`${prefix}${s}`)); n += 1) {
      prefix = `${base.slice(0, room - String(n).length - 1)}_${n}`;
    }
    for (const s of suffixes) taken.add(`${prefix}${s}`);
    prefixes.set(name, prefix);
  }
  return prefixes;
}

function seconds(name: string, ms: number): Measurement {
  return { name, value: ms / 1000, unit: 'seconds' };
}

function drillMeasurements(result: DrillResult): Measurement[] {
  const global: Measurement[] = [];
  if (result.rtoMs !== null) global.push(seconds('rto_seconds', result.rtoMs));
  global.push(seconds('rpo_seconds', result.rpoMs));
  global.push(seconds('elapsed_seconds', result.elapsedMs));
  const { rtoMs, rpoMs } = result.plan.objectives;
  if (rtoMs !== undefined) global.push(seconds('objective_rto_seconds', rtoMs));
  if (rpoMs !== undefined) global.push(seconds('objective_rpo_seconds', rpoMs));
  // Reserve every global name, present or not, so a store called `objective` cannot take one.
  const taken = new Set([
    'rto_seconds',
    'rpo_seconds',
    'elapsed_seconds',
    'objective_rto_seconds',
    'objective_rpo_seconds',
  ]);
  const prefixes = storePrefixes(
    result.datastores.map((d) => d.name),
    taken,
  );
  const perStore = result.datastores.flatMap((store): Measurement[] => {
    const prefix = prefixes.get(store.name) ?? store.name;
    return [
      ...(store.recoveredMs === null ? [] : [seconds(`${prefix}_rto_seconds`, store.recoveredMs)]),
      seconds(`${prefix}_rpo_seconds`, store.rpoMs),
      { name: `${prefix}_restored_bytes`, value: store.snapshot.bytes, unit: 'bytes' },
    ];
  });
  return [...global, ...perStore];
}

function drillArtifacts(result: DrillResult): Artifact[] {
  return result.datastores
    .filter((store) => SNAPSHOT_ID.test(store.snapshot.id))
    .map((store) => ({
      name: `snapshot ${store.name} ${id12(store.snapshot.id)}`,
      digest: `sha256:${store.snapshot.id}`,
      size: store.snapshot.bytes,
    }));
}

/**
 * The one-line summary of a drill.
 *
 * @example 'DR drill passed: RTO 41.2 s (objective 15 m), RPO 2 h 3 m (objective 6 h)'
 * @example 'DR drill failed: orders: fingerprint mismatch (counts): table public.order_lines differs'
 */
export function drillSummary(result: DrillResult): string {
  if (result.verdict !== 'passed') {
    const [first, ...rest] = result.reasons;
    const why =
      first === undefined
        ? 'no reason recorded'
        : `${first}${rest.length > 0 ? ` (+${rest.length} more)` : ''}`;
    return redact(`DR drill ${result.verdict}: ${why}`).slice(0, MAX_SUMMARY);
  }
  const objective = (ms: number | undefined) =>
    ms === undefined ? '' : ` (objective ${humanDuration(ms)})`;
  const rto = result.rtoMs === null ? 'not reached' : humanDuration(result.rtoMs);
  return (
    `DR drill passed: RTO ${rto}${objective(result.plan.objectives.rtoMs)}, ` +
    `RPO ${humanDuration(result.rpoMs)}${objective(result.plan.objectives.rpoMs)}`
  );
}

/** The subject a drill's evidence is recorded under: `service:<service name>`. */
export function drillSubject(result: DrillResult): string {
  return `service:${result.plan.serviceName}`.slice(0, 256);
}

/**
 * The `dr-drill` gate result of a drill: outcome = verdict, the measurements (seconds, bytes),
 * one artifact per restored snapshot, a one-line summary and the whole result as details.
 * Only a passed drill is valid evidence, for `validForMs` from when it finished.
 *
 * @example drillGateResult(result, parseDuration('30d'))
 */
export function drillGateResult(result: DrillResult, validForMs: number): GateResultInput {
  // A JSON round trip drops `undefined` members, which the ledger's JSON schema refuses.
  const details = redactDeep(JSON.parse(JSON.stringify(result)) as Record<string, never>);
  const finished = Date.parse(result.finishedAt);
  return {
    gate: DRILL_GATE,
    outcome: result.verdict,
    startedAt: result.plan.declaredAt,
    finishedAt: result.finishedAt,
    durationMs: Math.max(0, finished - Date.parse(result.plan.declaredAt)),
    measurements: drillMeasurements(result),
    artifacts: drillArtifacts(result),
    summary: drillSummary(result),
    details,
    ...(result.verdict === 'passed' && validForMs > 0
      ? { validUntil: new Date(finished + validForMs).toISOString() }
      : {}),
  };
}

/**
 * The evidence to record for a drill: its {@link drillGateResult} under {@link drillSubject}.
 *
 * @example await evidence.record(drillEvidence(result, spec.drill.valid_for))
 */
export function drillEvidence(result: DrillResult, validForMs: number): NewEvidence {
  return {
    kind: 'gate-result',
    subject: drillSubject(result),
    body: drillGateResult(result, validForMs),
  };
}

/** Where a drill result sits in the ledger. */
export interface DrillRecordRef {
  /** The record's sequence number and hash: what a signed report refers to. */
  readonly seq: number;
  readonly hash: string;
  /** Known when the result was read back from the ledger. */
  readonly recordedAt?: string;
  readonly subject?: string;
}

/** A drill result to report on, and its ledger record when it was recorded. */
export interface DrillReportInput {
  readonly result: DrillResult;
  readonly ledger?: DrillRecordRef;
}

/** One drill as the ledger holds it. */
export interface DrillRun extends DrillReportInput {
  readonly ledger: Required<DrillRecordRef>;
}

/** The ledger part {@link readDrillRuns} needs (an EvidenceLedger, local or remote). */
export interface DrillLedgerSource {
  list(options: ListOptions): Promise<LedgerRecord[]>;
}

/** Drill runs read back from the ledger, oldest first, and the records that could not be read. */
export interface DrillRuns {
  readonly runs: DrillRun[];
  /** One line per `dr-drill` record skipped because its details are not a drill result. */
  readonly warnings: string[];
}

/**
 * Reads every `dr-drill` gate result from the ledger, oldest first. A record whose details do
 * not parse as a DrillResult (written by hand, or by an incompatible Shipshape) is skipped with
 * a warning rather than failing the whole listing.
 */
export async function readDrillRuns(source: DrillLedgerSource): Promise<DrillRuns> {
  const page = 1000;
  const runs: DrillRun[] = [];
  const warnings: string[] = [];
  let afterSeq = 0;
  for (;;) {
    const records = await source.list({ afterSeq, gate: DRILL_GATE, order: 'asc', limit: page });
    for (const record of records) {
      afterSeq = Math.max(afterSeq, record.seq);
      if (record.kind !== 'gate-result') continue;
      const parsed = parseDrillResult(record.body.details);
      if (parsed.ok) {
        runs.push({
          ledger: {
            seq: record.seq,
            hash: record.hash,
            recordedAt: record.recordedAt,
            subject: record.subject,
          },
          result: parsed.result,
        });
      } else {
        warnings.push(
          `ledger record #${record.seq} (dr-drill) skipped: its details are not a drill result (${parsed.problems.join('; ')})`,
        );
      }
    }
    if (records.length < page) return { runs, warnings };
  }
}

/**
 * Finds one drill run by its run id, a unique prefix of it, or `latest`. When a run id was
 * recorded more than once (a re-recorded result), the newest record wins.
 *
 * @throws ShipError `SHIP_DRILL_RUN_NOT_FOUND` (exit 2) when nothing matches,
 * `SHIP_DRILL_RUN_AMBIGUOUS` (exit 2) when a prefix matches several runs.
 */
export function findDrillRun(runs: readonly DrillRun[], ref: string): DrillRun {
  const wanted = ref.trim();
  if (wanted === 'latest') {
    const latest = runs.at(-1);
    if (latest === undefined) {
      throw ShipError.usage('SHIP_DRILL_RUN_NOT_FOUND', 'no DR drill has been recorded yet', {
        hint: 'run one with `shipshape drill run`',
      });
    }
    return latest;
  }
  const newest = new Map<string, DrillRun>();
  for (const run of runs) newest.set(run.result.plan.id, run);
  const exact = newest.get(wanted);
  if (exact !== undefined) return exact;
  const matches =
    wanted === '' ? [] : [...newest.values()].filter((r) => r.result.plan.id.startsWith(wanted));
  const [only, ...others] = matches;
  if (only !== undefined && others.length === 0) return only;
  if (only === undefined) {
    throw ShipError.usage('SHIP_DRILL_RUN_NOT_FOUND', `no DR drill run "${wanted}" in the ledger`, {
      hint: 'list the recorded runs with `shipshape drill history`, or pass `latest`',
      details: { run: wanted },
    });
  }
  const ids = matches.map((r) => r.result.plan.id);
  throw ShipError.usage(
    'SHIP_DRILL_RUN_AMBIGUOUS',
    `"${wanted}" matches ${ids.length} DR drill runs: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`,
    { hint: 'give more characters of the run id', details: { run: wanted, matches: ids } },
  );
}
