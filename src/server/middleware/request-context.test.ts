import { describe, expect, it } from 'vitest';
import { requestIdFrom } from './request-context.js';

describe('requestIdFrom', () => {
  it.each(['abc', 'deploy-42', 'a.b:c_d', '0f8fad5b-d9cb-469f-a165-70867728950e'])(
    'keeps the sane id %s',
    (id) => {
      expect(requestIdFrom(id)).toBe(id);
    },
  );

  it.each(['', ' spaced', 'new\nline', 'x'.repeat(129), '-leading', 'quote"s', 'ünïcode'])(
    'replaces %j with a fresh UUID',
    (id) => {
      expect(requestIdFrom(id)).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    },
  );
});
