import type { Kysely } from 'kysely';

/** Rows of the state store. Column names are snake_case in both dialects. */
export interface Database {
  shipshape_migrations: MigrationRow;
  ledger_records: LedgerRecordRow;
  ledger_checkpoints: LedgerCheckpointRow;
  tokens: TokenRow;
  notification_deliveries: NotificationDeliveryRow;
  schedule_runs: ScheduleRunRow;
}

export interface MigrationRow {
  name: string;
  /** ISO-8601 UTC. */
  applied_at: string;
  /** `host:pid` of the process that applied it. */
  applied_by: string;
}

export interface LedgerRecordRow {
  /** 1-based, contiguous, unique: the position in the chain. */
  seq: number;
  id: string;
  kind: string;
  /** Gate id for `gate-result` records, else null. */
  gate: string | null;
  /** Event type for `event` records, else null. */
  event_type: string | null;
  subject: string;
  /** JSON text. */
  actor: string;
  /** ISO-8601 UTC. */
  recorded_at: string;
  /** JSON text. */
  body: string;
  prev_hash: string;
  hash: string;
}

export interface LedgerCheckpointRow {
  /** Sequence number of the record this checkpoint covers (the chain head when signed). */
  seq: number;
  head_hash: string;
  signed_at: string;
  key_id: string;
  /** base64 Ed25519 signature. */
  signature: string;
}

/** An API token (docs/identity.md). Never the token itself: only its SHA-256. */
export interface TokenRow {
  /** 12 hex digits, the public part of `ssp_<id>_<secret>`. */
  id: string;
  /** Person id from the spec. */
  person: string;
  /** JSON text: the roles the token was minted with (a subset of the person's). */
  roles: string;
  /** Hex SHA-256 of the whole token. */
  hash: string;
  description: string | null;
  /** ISO-8601 UTC. */
  created_at: string;
  /** JSON text: the actor who minted it. */
  created_by: string;
  /** ISO-8601 UTC; null never expires. */
  expires_at: string | null;
  revoked_at: string | null;
  /** JSON text: the actor who revoked it. */
  revoked_by: string | null;
  /** ISO-8601 UTC, updated at most once a minute. */
  last_used_at: string | null;
}

/** One notification handed to one channel (docs/notifications.md). Never holds a secret. */
export interface NotificationDeliveryRow {
  id: string;
  notification_id: string;
  /** Channel name from the spec. */
  channel: string;
  /** Notification type, e.g. `gate-failed`. */
  type: string;
  subject: string;
  /** `delivered` or `failed`. */
  status: string;
  /** JSON text: `[{ at, httpStatus?, error?, durationMs }]`, errors redacted. */
  attempts: string;
  /** JSON text `{ code, message, hint? }` when failed, else null. */
  error: string | null;
  /** ISO-8601 UTC, when delivery started. */
  created_at: string;
  /** ISO-8601 UTC. */
  finished_at: string;
}

/**
 * One scheduled run and its lease (docs/scheduler.md). The key (job, environment, due_at) is
 * unique: taking the lease is inserting the row; an expired `running` row may be taken over.
 */
export interface ScheduleRunRow {
  /** `backup:<datastore>` or `prune:<repository>`. */
  job: string;
  /** Connection environment of a backup; empty for a prune. */
  environment: string;
  /** ISO-8601 UTC: the time the run fell due. */
  due_at: string;
  /** `backup` or `prune`. */
  kind: string;
  /** `host:pid:nonce` of the scheduler holding (or last holding) the lease. */
  holder: string;
  /** ISO-8601 UTC; another scheduler may take a `running` row over after this. */
  lease_expires_at: string;
  /** ISO-8601 UTC, the holder's last renewal. */
  heartbeat_at: string;
  /** `running`, `succeeded` or `failed`. */
  status: string;
  /** Attempts made so far (retries included). */
  attempts: number;
  /** ISO-8601 UTC. */
  started_at: string;
  /** ISO-8601 UTC once finished, else null. */
  finished_at: string | null;
  /** JSON text `{ code, message }` of the last failure, else null. */
  error: string | null;
}

export type StoreDialect = 'sqlite' | 'postgres';

export type StoreDb = Kysely<Database>;

export interface MigrationReport {
  /** Migrations this call applied (empty when another process had already applied them). */
  applied: string[];
  /** Every migration known to the code, in order. */
  known: string[];
}

/**
 * The state store: Kysely over SQLite (default) or PostgreSQL (scale-out).
 * Services use `db` for reads and `exclusive` for writes that must serialise across processes.
 */
export interface Store {
  readonly dialect: StoreDialect;
  /** Where the store lives, with any password redacted (for messages and `store status`). */
  readonly location: string;
  readonly db: StoreDb;
  /** Applies pending migrations exactly once even when several processes call it at once. */
  migrate(): Promise<MigrationReport>;
  /**
   * Runs `fn` in a transaction that holds the store-wide write lock named `lock`
   * (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `pg_advisory_xact_lock`). Commits when `fn`
   * resolves, rolls back when it throws.
   */
  exclusive<T>(lock: string, fn: (trx: StoreDb) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** How to reach the store. */
export type StoreLocation =
  { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };
