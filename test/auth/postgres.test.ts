import { createPostgresDatabase } from '../helpers/services.js';
import { tokenSuite } from './token-suite.js';

tokenSuite({
  name: 'postgres',
  async create() {
    const database = await createPostgresDatabase('tokens');
    return {
      location: { dialect: 'postgres', url: database.url },
      cleanup: () => database.drop(),
    };
  },
});
