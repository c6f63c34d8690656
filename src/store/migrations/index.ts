import { initial } from './0001_initial.js';
import { tokens } from './0002_tokens.js';
import { notificationDeliveries } from './0003_notification_deliveries.js';
import { scheduleRuns } from './0004_schedule_runs.js';
import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

/** Every migration, in the order they apply. Append only; never edit a released one. */
export const migrations: readonly Migration[] = [
  initial,
  tokens,
  notificationDeliveries,
  scheduleRuns,
];
