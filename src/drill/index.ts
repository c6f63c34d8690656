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
  ObjectiveResult,
  Objectives,
  PhaseTiming,
  Placement,
  PlannedDatastore,
  PlannedSnapshot,
  ServiceOutcome,
} from './types.js';
