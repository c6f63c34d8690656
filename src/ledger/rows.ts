import { ExitCode, ShipError } from '../core/index.js';
import type { LedgerCheckpointRow, LedgerRecordRow } from '../store/index.js';
import { canonicalJson } from './canonical.js';
import {
  LedgerRecordSchema,
  type ChainRecord,
  type LedgerCheckpoint,
  type LedgerRecord,
} from './evidence.js';

/**
 * Column values as a driver may return them: PostgreSQL hands back BIGINT as a string, a
 * timestamp as a Date and JSON columns already parsed. Normalising here keeps every caller on
 * the same plain values whatever column types the store's migration chose.
 */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
export function text(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}
function json(value: unknown): unknown {
  return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
}
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The row to insert for a record. JSON columns hold canonical JSON. */
export function recordToRow(record: LedgerRecord): LedgerRecordRow {
  return {
    seq: record.seq,
    id: record.id,
    kind: record.kind,
    gate: record.kind === 'gate-result' ? record.body.gate : null,
    event_type: record.kind === 'event' ? record.body.type : null,
    subject: record.subject,
    actor: canonicalJson(record.actor),
    recorded_at: record.recordedAt,
    body: canonicalJson(record.body),
    prev_hash: record.prevHash,
    hash: record.hash,
  };
}

/** Sequence number and stored hashes of a row, readable even when its JSON is not. */
export function rowHashes(row: LedgerRecordRow): { seq: number; prevHash: string; hash: string } {
  return { seq: num(row.seq), prevHash: text(row.prev_hash), hash: text(row.hash) };
}

/**
 * A row as the chain sees it, or why it cannot be read. Also reports when the indexed
 * `gate` / `event_type` columns (not covered by the hash) disagree with the hashed body, since
 * a forged column would mislead `ledger list --gate`.
 */
export function rowToChainRecord(
  row: LedgerRecordRow,
): { record: ChainRecord; mismatch?: string } | { error: string } {
  let actor: unknown;
  let body: unknown;
  try {
    actor = json(row.actor);
    body = json(row.body);
  } catch (error) {
    return {
      error: `its JSON is corrupt (${error instanceof Error ? error.message : 'unparseable'})`,
    };
  }
  if (!isObject(actor) || !isObject(body)) return { error: 'actor or body is not a JSON object' };
  const record: ChainRecord = {
    seq: num(row.seq),
    id: text(row.id),
    kind: text(row.kind),
    subject: text(row.subject),
    actor,
    recordedAt: text(row.recorded_at),
    body,
    prevHash: text(row.prev_hash),
    hash: text(row.hash),
  };
  const gate = record.kind === 'gate-result' ? body.gate : null;
  const eventType = record.kind === 'event' ? body.type : null;
  if ((row.gate ?? null) !== gate || (row.event_type ?? null) !== eventType) {
    return {
      record,
      mismatch:
        `its index columns (gate=${String(row.gate)}, event_type=${String(row.event_type)}) ` +
        `disagree with its hashed content (gate=${String(gate)}, type=${String(eventType)})`,
    };
  }
  return { record };
}

/**
 * A row as a typed record, for `list` and `get`. A row that cannot be read is evidence of
 * tampering or corruption: SHIP_LEDGER_BAD_RECORD, exit ledgerTampered.
 */
export function rowToRecord(row: LedgerRecordRow): LedgerRecord {
  const read = rowToChainRecord(row);
  if ('error' in read) throw badRecord(row, read.error);
  const parsed = LedgerRecordSchema.safeParse(read.record);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') ?? '';
    throw badRecord(row, `it does not fit the record schema (${where}: ${issue?.message ?? ''})`);
  }
  return parsed.data;
}

function badRecord(row: LedgerRecordRow, why: string): ShipError {
  const seq = num(row.seq);
  return new ShipError('SHIP_LEDGER_BAD_RECORD', `Ledger record ${seq} cannot be read: ${why}.`, {
    exitCode: ExitCode.ledgerTampered,
    hint: 'Run `shipshape ledger verify` to see what was changed.',
    details: { seq },
  });
}

export function checkpointToRow(checkpoint: LedgerCheckpoint): LedgerCheckpointRow {
  return {
    seq: checkpoint.seq,
    head_hash: checkpoint.headHash,
    signed_at: checkpoint.signedAt,
    key_id: checkpoint.keyId,
    signature: checkpoint.signature,
  };
}

/** A checkpoint row as a checkpoint. Not validated: the signature check is the validation. */
export function rowToCheckpoint(row: LedgerCheckpointRow): LedgerCheckpoint {
  return {
    seq: num(row.seq),
    headHash: text(row.head_hash),
    signedAt: text(row.signed_at),
    keyId: text(row.key_id),
    signature: text(row.signature),
  };
}
