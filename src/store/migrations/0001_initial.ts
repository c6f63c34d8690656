import type { Migration } from './migration.js';

/**
 * The evidence ledger's tables. JSON columns are `text` in both dialects: the ledger hashes the
 * exact text it stored, so the database must not re-encode it (as PostgreSQL's `jsonb` would).
 */
export const initial: Migration = {
  name: '0001_initial',
  async up(db) {
    await db.schema
      .createTable('ledger_records')
      // Not autoincrement: the ledger assigns seq itself (contiguous, 1-based) under its lock.
      .addColumn('seq', 'integer', (col) => col.primaryKey())
      .addColumn('id', 'text', (col) => col.notNull().unique())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('gate', 'text')
      .addColumn('event_type', 'text')
      .addColumn('subject', 'text', (col) => col.notNull())
      .addColumn('actor', 'text', (col) => col.notNull())
      .addColumn('recorded_at', 'text', (col) => col.notNull())
      .addColumn('body', 'text', (col) => col.notNull())
      .addColumn('prev_hash', 'text', (col) => col.notNull())
      .addColumn('hash', 'text', (col) => col.notNull().unique())
      .execute();
    await db.schema
      .createIndex('ledger_records_kind_idx')
      .on('ledger_records')
      .column('kind')
      .execute();
    await db.schema
      .createIndex('ledger_records_gate_subject_idx')
      .on('ledger_records')
      .columns(['gate', 'subject'])
      .execute();
    // No foreign key to ledger_records: `ledger verify` must be able to report a checkpoint
    // whose record was deleted, not have the database refuse the evidence of tampering.
    await db.schema
      .createTable('ledger_checkpoints')
      .addColumn('seq', 'integer', (col) => col.primaryKey())
      .addColumn('head_hash', 'text', (col) => col.notNull())
      .addColumn('signed_at', 'text', (col) => col.notNull())
      .addColumn('key_id', 'text', (col) => col.notNull())
      .addColumn('signature', 'text', (col) => col.notNull())
      .execute();
  },
};
