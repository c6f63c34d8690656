export type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  CommandSpec,
  Driver,
  DriverBackupMeta,
  KeptSandbox,
  RestoreOptions,
  Sandbox,
  SandboxOptions,
  ServerIdentity,
  SnapshotReader,
  Target,
  ToolRequirement,
} from './driver.js';
export { DatastoreErrorCode } from './errors.js';
export {
  compareFingerprints,
  fingerprintForManifest,
  fingerprintFromManifest,
  makeFingerprint,
} from './fingerprint.js';
export type { Fingerprint, FingerprintComparison, FingerprintEntry } from './fingerprint.js';
export { DRIVERS, driverFor, supportedKinds } from './registry.js';
export { repositoryReader, repositorySink } from './repository.js';
export type { RepositorySinkOptions } from './repository.js';
export {
  findPgTools,
  parsePgVersion,
  DEBIAN_POSTGRES_ROOT,
  POSTGRES_BIN_ENV,
} from './postgres-tools.js';
export type { FindPgToolsOptions, PgToolSet } from './postgres-tools.js';
export { parsePgConnection } from './postgres-connection.js';
export type { PgConnection } from './postgres-connection.js';
export { COMMAND_TARGET_NOT_EMPTY_STATUS, commandEnv } from './command.js';
export { postgresDriver, LARGE_OBJECTS_ENTRY } from './postgres.js';
export { sqliteDriver, sqliteFingerprint } from './sqlite.js';
export { filesDriver, directoryFingerprint } from './files.js';
export { commandDriver } from './command.js';
export { mariadbDriver, mysqlDriver } from './mariadb.js';
export { MARIADB_BIN_ENV, parseMariadbConnection } from './mariadb-client.js';
export type { MariadbConnection } from './mariadb-client.js';
export { startServer as startMariadbServer } from './mariadb-sandbox.js';
export type { MariadbServer } from './mariadb-sandbox.js';
export { redisDriver, redisFingerprint } from './redis.js';
export { RedisClient, parseRedisConnection } from './redis-client.js';
export type { RedisConnection } from './redis-client.js';
export { REDIS_SERVER_ENV, findRedisServer, startRedisServer } from './redis-sandbox.js';
export type { RedisServer } from './redis-sandbox.js';
export {
  backupEvidence,
  datastoreSnapshots,
  datastoreTarget,
  runDatastoreBackup,
  specDatastore,
  withDatastoreRepository,
} from './run.js';
export type { BackupRunContext, BackupRunResult } from './run.js';
export {
  ALERTING_STATES,
  BACKUP_STATES,
  NO_BACKUP_FACTS,
  backupAttemptOf,
  backupRecords,
  backupStatusReport,
  backupSubject,
  datastoreBackupStatus,
  foldBackupRecord,
  readBackupFacts,
} from './status.js';
export type {
  BackupAttempt,
  BackupFacts,
  BackupLedgerSource,
  BackupState,
  BackupStatusOptions,
  DatastoreBackupStatus,
  ScheduleStatus,
} from './status.js';
export {
  checkFingerprint,
  describeMismatch,
  pickSnapshot,
  restoreEvidence,
  restoreFailureEvidence,
  restoreTarget,
  runDatastoreRestore,
  snapshotDataTime,
} from './restore-run.js';
export type {
  FingerprintCheck,
  RestoreRunContext,
  RestoreRunOptions,
  RestoreRunResult,
} from './restore-run.js';
export { verifyDatastoreBackups, verifyEvidence } from './verify-run.js';
export { QUERY_TIMEOUT_MS, REDIS_VALUE_LIMIT, queryValue, redisKeyFacts } from './query.js';
export type { RedisKeyFacts, SqlValue } from './query.js';
export type { UnreadableSnapshot, VerifyRunOptions, VerifyRunResult } from './verify-run.js';
