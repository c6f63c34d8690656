/**
 * The evidence ledger: gate results and events, hash-chained, with Ed25519-signed checkpoints
 * of the head. See docs/ledger.md.
 */
export { canonicalJson } from './canonical.js';
export { GENESIS_HASH, RECORD_HASH_DOMAIN, hashRecord } from './chain.js';
export { CHECKPOINT_SIGNATURE_DOMAIN, checkpointSignedBytes } from './checkpoint.js';
export {
  ACTOR_KINDS,
  ActorSchema,
  AppendInputSchema,
  ArtifactSchema,
  ChainRecordSchema,
  CheckpointSchema,
  EVENT_TYPES,
  EventBodySchema,
  EventRecordSchema,
  GATE_IDS,
  GateResultBodySchema,
  GateResultInputSchema,
  GateResultRecordSchema,
  LedgerRecordSchema,
  MEASUREMENT_UNITS,
  MeasurementSchema,
  OUTCOMES,
  RECORD_KINDS,
  type Actor,
  type ActorInput,
  type ActorKind,
  type AppendInput,
  type Artifact,
  type ChainRecord,
  type EventBody,
  type EventBodyInput,
  type EventRecord,
  type EventType,
  type GateId,
  type GateResultBody,
  type GateResultInput,
  type GateResultRecord,
  type KnownEventType,
  type LedgerCheckpoint,
  type LedgerRecord,
  type Measurement,
  type MeasurementUnit,
  type Outcome,
  type RecordKind,
} from './evidence.js';
export {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  verifyExportFile,
  type ExportHeader,
  type VerifyExportOptions,
} from './export.js';
export {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPrivateKeyFile,
  loadPublicKey,
  loadPublicKeyFile,
  type SigningKeyPair,
} from './keys.js';
export {
  LEDGER_LOCK,
  Ledger,
  type ExportSummary,
  type LedgerOptions,
  type ListOptions,
} from './ledger.js';
export {
  LedgerVerifier,
  MAX_REPORTED_PROBLEMS,
  VerifyProblemCode,
  verifyLedger,
  type CheckpointSource,
  type VerifyLedgerInput,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyReport,
} from './verify.js';
export { LocalEvidenceLedger, type EvidenceLedger, type NewEvidence } from './evidence-ledger.js';
