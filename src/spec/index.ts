export { SpecErrorCode, SpecProblemCode } from './codes.js';
export type { SpecProblemCodeValue } from './codes.js';
export { specJsonSchema, SPEC_SCHEMA_ID } from './json-schema.js';
export { findSpecFile, loadSpec, parseSpec, MAX_SPEC_BYTES, SPEC_FILE_NAMES } from './load.js';
export type { LoadedSpec } from './load.js';
export { BUILTIN_ROLES, NAME_RULES } from './names.js';
export type { BuiltinRole } from './names.js';
export { holdersOf, personForOsUser, rolesOf } from './roles.js';
export { nextScheduledRuns } from './schedule.js';
export type { CronSchedule } from './schedule.js';
export {
  CHANNEL_KINDS,
  DATASTORE_KINDS,
  FINGERPRINT_MODES,
  NOTIFICATION_TYPES,
  SQL_DATASTORE_KINDS,
  SUPPORTED_SPEC_VERSIONS,
  specSchema,
} from './schema.js';
export type {
  ChannelConfig,
  ChannelKind,
  Datastore,
  DatastoreKind,
  DrillService,
  DrillSpec,
  Environment,
  FingerprintMode,
  HttpCheck,
  IntegrityCheck,
  Ledger,
  Notifications,
  NotificationType,
  Person,
  Repository,
  Spec,
} from './schema.js';
export {
  findSecretRefs,
  isSingleSecretRef,
  resolveSecretString,
  SECRET_REF_KINDS,
} from './secrets.js';
export type { SecretContext, SecretRef, SecretRefKind } from './secrets.js';
export { findLiteralPassword, variableBase } from './connection.js';
export { isLoopbackHost, webhookUrlProblem, WEBHOOK_URL_EXPECTED } from './webhook-url.js';
export type { WebhookUrlProblem } from './webhook-url.js';
export { didYouMean } from '../core/index.js';
