import type { Migration } from './migration.js';

/**
 * One row per scheduled run (docs/scheduler.md): the lease a scheduler takes before it runs a
 * backup or prune that fell due, keyed by (job, environment, due time) so that schedulers sharing
 * the store never run the same due time twice. Times are ISO-8601 UTC text, as in 0001.
 */
export const scheduleRuns: Migration = {
  name: '0004_schedule_runs',
  async up(db) {
    await db.schema
      .createTable('schedule_runs')
      .addColumn('job', 'text', (col) => col.notNull())
      .addColumn('environment', 'text', (col) => col.notNull())
      .addColumn('due_at', 'text', (col) => col.notNull())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('holder', 'text', (col) => col.notNull())
      .addColumn('lease_expires_at', 'text', (col) => col.notNull())
      .addColumn('heartbeat_at', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('attempts', 'integer', (col) => col.notNull())
      .addColumn('started_at', 'text', (col) => col.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('error', 'text')
      .addPrimaryKeyConstraint('schedule_runs_pk', ['job', 'environment', 'due_at'])
      .execute();
    await db.schema
      .createIndex('schedule_runs_status_idx')
      .on('schedule_runs')
      .columns(['status', 'lease_expires_at'])
      .execute();
  },
};
