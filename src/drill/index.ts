export { DRILL_PHASES, DRILL_VERDICTS } from './types.js';
export type {
  CheckResult,
  DatastoreOutcome,
  DrillEnvironment,
  DrillError,
  DrillPhase,
  DrillPlan,
  DrillResult,
  DrillVerdict,
  FingerprintResult,
  KeptSandboxOutcome,
  ObjectiveResult,
  Objectives,
  PhaseTiming,
  Placement,
  PlannedDatastore,
  PlannedSnapshot,
  ServiceOutcome,
} from './types.js';
export { isDrillId, newDrillId } from './run-id.js';
export {
  DrillPlanErrorCode,
  drillDatastores,
  drillEnvironment,
  drillTarget,
  plannedSnapshot,
  prepareDrill,
  redactConnection,
} from './plan.js';
export type { DrillContext, PlanOptions, PreparedDatastore, PreparedDrill } from './plan.js';
export {
  IsolationErrorCode,
  assertIsolated,
  normalizeConnection,
  normalizeHost,
  readRecordedIdentities,
  recordedIdentities,
  sameEndpoint,
} from './isolation.js';
export type { Endpoint, RecordedIdentity } from './isolation.js';
export { DrillClock } from './clock.js';
export { PAUSE_AT_ENV, PAUSE_FILE_ENV, drillExitCode, runDrill } from './run.js';
export type { DrillHooks, DrillRunOptions } from './run.js';
export { checkDrillRefs, serviceEnvironment } from './service-env.js';
export {
  DEFAULT_DRILL_VALIDITY_MS,
  drillDirectory,
  executeDrill,
  planIsolatedDrill,
} from './execute.js';
export type { ExecutedDrill } from './execute.js';
export {
  describeIntegrityExpectation,
  runIntegrityChecks,
  sqlValueEquals,
} from './integrity-checks.js';
export { describeHttpExpectation, runHttpCheck, runHttpChecks } from './http-checks.js';
export type { HttpCheckContext } from './http-checks.js';
export {
  BAD_JSON_PATH,
  formatJsonPath,
  jsonEquals,
  jsonPathGet,
  parseJsonPath,
} from './json-path.js';
export type { JsonPathResult, JsonPathSegment } from './json-path.js';
export {
  DRILL_GATE,
  drillEvidence,
  drillGateResult,
  drillSubject,
  drillSummary,
  findDrillRun,
  readDrillRuns,
  type DrillLedgerSource,
  type DrillRecordRef,
  type DrillReportInput,
  type DrillRun,
  type DrillRuns,
} from './evidence.js';
export { drillResultSchema, parseDrillResult } from './result-schema.js';
export { renderDrillMarkdown } from './report-md.js';
export { renderDrillHtml } from './report-html.js';
export {
  drillHistory,
  type DrillHistoryOptions,
  type DrillHistoryRow,
  type DrillHistoryStore,
} from './history.js';
export { exactDuration, humanDuration, maybeDuration } from './format.js';
