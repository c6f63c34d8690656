/**
 * Builds in-memory ledgers for tests, and rewrites them the way an attacker would: recomputing
 * every hash so the chain stays internally consistent.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import {
  GENESIS_HASH,
  hashRecord,
  type ChainRecord,
  type LedgerCheckpoint,
} from '../../src/ledger/index.js';
import { createCheckpointSigner, signCheckpoint } from '../../src/ledger/checkpoint.js';

export interface BuiltLedger {
  records: ChainRecord[];
  checkpoints: LedgerCheckpoint[];
}

/** An event record at `seq`, linked to `prevHash`, with a correct hash. */
export function recordAt(seq: number, prevHash: string, note = `record ${seq}`): ChainRecord {
  const record = {
    seq,
    id: randomUUID(),
    kind: 'event',
    subject: 'service:shop',
    actor: { kind: 'system', roles: [] },
    recordedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
    body: { type: 'note', details: { note } },
    prevHash,
  };
  return { ...record, hash: hashRecord(record) };
}

/** Recomputes prevHash and hash from index `from` on, keeping the chain internally valid. */
export function rechain<R extends ChainRecord>(records: readonly R[], from = 0): R[] {
  const out = records.slice(0, from);
  let prev = from === 0 ? GENESIS_HASH : records[from - 1]!.hash;
  for (const original of records.slice(from)) {
    const linked = { ...original, prevHash: prev };
    const record = { ...linked, hash: hashRecord(linked) };
    out.push(record);
    prev = record.hash;
  }
  return out;
}

/** A ledger of `count` records with a checkpoint signed by `key` every `every` records. */
export function buildLedger(
  count: number,
  { key, every = 1 }: { key: KeyObject; every?: number },
): BuiltLedger {
  const signer = createCheckpointSigner(key);
  const records: ChainRecord[] = [];
  const checkpoints: LedgerCheckpoint[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const record = recordAt(seq, prev);
    records.push(record);
    prev = record.hash;
    if (seq % every === 0) {
      checkpoints.push(
        signCheckpoint(signer, { seq, headHash: record.hash, signedAt: record.recordedAt }),
      );
    }
  }
  return { records, checkpoints };
}

/** Signs checkpoints for `records` with some key (an attacker's, in tests). */
export function signAll(records: readonly ChainRecord[], key: KeyObject): LedgerCheckpoint[] {
  const signer = createCheckpointSigner(key);
  return records.map((r) =>
    signCheckpoint(signer, { seq: r.seq, headHash: r.hash, signedAt: r.recordedAt }),
  );
}
