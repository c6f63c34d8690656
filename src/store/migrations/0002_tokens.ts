import type { Migration } from './migration.js';

/**
 * API tokens (docs/identity.md). Only a SHA-256 of each token is stored; the token itself is
 * shown once when minted. JSON columns (`roles`, `created_by`, `revoked_by`) are text, as in
 * 0001, so both dialects hold exactly what was written.
 */
export const tokens: Migration = {
  name: '0002_tokens',
  async up(db) {
    await db.schema
      .createTable('tokens')
      // The public part of the token (`ssp_<id>_…`): lookups and evidence use it.
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('person', 'text', (col) => col.notNull())
      .addColumn('roles', 'text', (col) => col.notNull())
      .addColumn('hash', 'text', (col) => col.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (col) => col.notNull())
      .addColumn('created_by', 'text', (col) => col.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('revoked_at', 'text')
      .addColumn('revoked_by', 'text')
      .addColumn('last_used_at', 'text')
      .execute();
    await db.schema.createIndex('tokens_person_idx').on('tokens').column('person').execute();
  },
};
