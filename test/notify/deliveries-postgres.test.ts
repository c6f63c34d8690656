import { sql } from 'kysely';
import { createPostgresDatabase } from '../helpers/services.js';
import { deliveriesSuite } from './deliveries-suite.js';

deliveriesSuite({
  name: 'postgres',
  async create() {
    const database = await createPostgresDatabase('notify');
    return {
      location: { dialect: 'postgres', url: database.url },
      // Every column of every row, as PostgreSQL renders it.
      async rawText(store) {
        const result = await sql<{
          row: string;
        }>`select row_to_json(d)::text as row from notification_deliveries d`.execute(store.db);
        return result.rows.map((r) => r.row).join('\n');
      },
      cleanup: () => database.drop(),
    };
  },
});
