import { jsonRoute } from '../route.js';
import { WhoamiSchema } from '../schemas.js';

export const whoami = jsonRoute({
  method: 'GET',
  path: '/v1/whoami',
  operationId: 'whoami',
  tag: 'identity',
  summary: 'The identity of the bearer token: person, token id and the roles it acts with',
  access: 'authenticated',
  usesStore: true,
  response: { kind: 'json', status: 200, schema: WhoamiSchema, description: 'the caller' },
  handle: ({ actor }) => ({ actor }),
});
