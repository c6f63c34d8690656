import type { Migration } from './migration.js';

/**
 * One row per notification per channel: what was sent where, whether it arrived and every
 * attempt (docs/notifications.md). `attempts` is JSON text, as the JSON columns of 0001.
 */
export const notificationDeliveries: Migration = {
  name: '0003_notification_deliveries',
  async up(db) {
    await db.schema
      .createTable('notification_deliveries')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('notification_id', 'text', (col) => col.notNull())
      .addColumn('channel', 'text', (col) => col.notNull())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('subject', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('attempts', 'text', (col) => col.notNull())
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (col) => col.notNull())
      .addColumn('finished_at', 'text', (col) => col.notNull())
      .execute();
    await db.schema
      .createIndex('notification_deliveries_created_at_idx')
      .on('notification_deliveries')
      .column('created_at')
      .execute();
    await db.schema
      .createIndex('notification_deliveries_notification_id_idx')
      .on('notification_deliveries')
      .column('notification_id')
      .execute();
  },
};
