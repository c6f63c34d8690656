import { z } from 'zod';
import { DATASTORE_KINDS } from '../spec/index.js';
import { DRILL_PHASES, DRILL_VERDICTS, type DrillResult } from './types.js';

/**
 * The schema of a {@link DrillResult} as stored in a `dr-drill` gate result's details. A record
 * read back from the ledger is parsed with it before anything renders it: a record written by a
 * different Shipshape (or by hand) is refused rather than half-rendered. Unknown keys are
 * dropped, so a newer record with extra fields still reads.
 */

const instant = z.iso.datetime({ offset: true });
const ms = z.number();

const phaseTimingSchema = z.object({
  phase: z.enum(DRILL_PHASES),
  startMs: ms,
  endMs: ms,
  durationMs: ms,
  ok: z.boolean(),
});

const placementSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sandbox') }),
  z.object({ kind: z.literal('target'), target: z.string() }),
]);

const plannedSnapshotSchema = z.object({
  id: z.string().min(1),
  time: instant,
  consistentAt: instant.nullable(),
  consistentPoint: z.object({ kind: z.string(), value: z.string() }).nullable(),
  bytes: z.number().int().nonnegative(),
  host: z.string(),
  fingerprint: z.object({ mode: z.enum(['counts', 'full']), digest: z.string() }).nullable(),
  toolVersions: z.record(z.string(), z.string()),
});

const objectivesSchema = z.object({ rtoMs: ms.optional(), rpoMs: ms.optional() });

const plannedDatastoreSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(DATASTORE_KINDS),
  repository: z.string(),
  snapshot: plannedSnapshotSchema,
  placement: placementSchema,
  checks: z.array(z.string()),
  objectives: objectivesSchema,
  rpoMs: ms,
});

const drillPlanSchema = z.object({
  id: z.string().min(1),
  serviceName: z.string(),
  environment: z.string(),
  declaredAt: instant,
  disasterAt: instant,
  simulated: z.boolean(),
  objectives: objectivesSchema.extend({
    rtoFrom: z.string().optional(),
    rpoFrom: z.string().optional(),
  }),
  datastores: z.array(plannedDatastoreSchema),
  service: z
    .object({
      command: z.string(),
      cwd: z.string(),
      health: z.string().nullable(),
      checks: z.array(z.string()),
    })
    .nullable(),
  keep: z.boolean(),
});

const checkResultSchema = z.object({
  name: z.string(),
  kind: z.enum(['sql', 'key', 'http']),
  passed: z.boolean(),
  expected: z.string(),
  actual: z.string(),
  durationMs: ms,
});

const objectiveResultSchema = z.object({
  objectiveMs: ms,
  measuredMs: ms.nullable(),
  met: z.boolean(),
});

const drillErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
});

const fingerprintResultSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('skipped'), why: z.string() }),
  z.object({
    state: z.enum(['match', 'mismatch']),
    mode: z.enum(['counts', 'full']),
    expected: z.string(),
    actual: z.string(),
    changed: z.array(z.string()),
    missing: z.array(z.string()),
    extra: z.array(z.string()),
  }),
]);

const outcomeObjectivesSchema = z.object({
  rto: objectiveResultSchema.optional(),
  rpo: objectiveResultSchema.optional(),
});

const datastoreOutcomeSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(DATASTORE_KINDS),
  snapshot: plannedSnapshotSchema,
  placement: placementSchema,
  phases: z.array(phaseTimingSchema),
  recoveredMs: ms.nullable(),
  rpoMs: ms,
  clockSkewBoundMs: ms.nullable(),
  fingerprint: fingerprintResultSchema.nullable(),
  checks: z.array(checkResultSchema),
  objectives: outcomeObjectivesSchema,
  kept: z
    .object({
      connection: z.string(),
      stop: z.string(),
      pid: z.number().int().positive().optional(),
      dataDir: z.string(),
    })
    .optional(),
  error: drillErrorSchema.optional(),
});

const serviceOutcomeSchema = z.object({
  command: z.string(),
  port: z.number().int().nullable(),
  phases: z.array(phaseTimingSchema),
  checks: z.array(checkResultSchema),
  logTail: z.string(),
  logFile: z.string().nullable(),
  error: drillErrorSchema.optional(),
});

const drillEnvironmentSchema = z.object({
  host: z.string(),
  platform: z.string(),
  cpus: z.number().int().nonnegative(),
  node: z.string(),
  shipshape: z.string(),
  tools: z.record(z.string(), z.string()),
});

/** A {@link DrillResult}, validated (see the module comment). */
export const drillResultSchema = z.object({
  plan: drillPlanSchema,
  verdict: z.enum(DRILL_VERDICTS),
  reasons: z.array(z.string()),
  finishedAt: instant,
  rtoMs: ms.nullable(),
  rpoMs: ms,
  elapsedMs: ms,
  objectives: outcomeObjectivesSchema,
  datastores: z.array(datastoreOutcomeSchema),
  service: serviceOutcomeSchema.nullable(),
  timeline: z.array(z.object({ atMs: ms, event: z.string() })),
  environment: drillEnvironmentSchema,
  interrupted: z.boolean().optional(),
});

type AssertTrue<T extends true> = T;
type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
/** Compile-time guard: a parsed record is a DrillResult. */
export type DrillResultSchemaMatches = AssertTrue<
  z.output<typeof drillResultSchema> extends DrillResult ? true : false
>;
/** Compile-time guard, the other way: every DrillResult parses (the schema asks for no more). */
export type DrillResultFitsSchema = AssertTrue<
  DrillResult extends DeepReadonly<z.input<typeof drillResultSchema>> ? true : false
>;

/**
 * Parses `details` of a `dr-drill` record as a DrillResult.
 *
 * @returns the result, or the first problems (path: message) when it does not fit.
 */
export function parseDrillResult(
  details: unknown,
): { ok: true; result: DrillResult } | { ok: false; problems: string[] } {
  const parsed = drillResultSchema.safeParse(details);
  if (parsed.success) return { ok: true, result: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
  };
}
