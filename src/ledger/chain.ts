import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { ChainRecord } from './evidence.js';

/** `prevHash` of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Domain-separation tag: the bytes hashed for a record can never be mistaken for the bytes of
 * a checkpoint or of anything else Shipshape hashes, and a future format gets a new tag.
 */
export const RECORD_HASH_DOMAIN = 'shipshape-ledger/v1\n';

/**
 * The hash a record must carry: sha256 over `shipshape-ledger/v1\n` followed by the RFC 8785
 * canonical JSON of every field except `hash`. Extra properties on the argument are ignored,
 * so only the defined fields are ever covered.
 */
export function hashRecord(record: Omit<ChainRecord, 'hash'>): string {
  const covered = {
    seq: record.seq,
    id: record.id,
    kind: record.kind,
    subject: record.subject,
    actor: record.actor,
    recordedAt: record.recordedAt,
    body: record.body,
    prevHash: record.prevHash,
  };
  return createHash('sha256')
    .update(RECORD_HASH_DOMAIN + canonicalJson(covered), 'utf8')
    .digest('hex');
}
