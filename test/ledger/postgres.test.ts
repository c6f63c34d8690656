import { createPostgresDatabase } from '../helpers/services.js';
import { ledgerSuite } from './ledger-suite.js';

ledgerSuite({
  name: 'postgres',
  async create() {
    const database = await createPostgresDatabase('ledger');
    return {
      location: { dialect: 'postgres', url: database.url },
      cleanup: () => database.drop(),
    };
  },
});
