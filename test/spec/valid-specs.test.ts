/** Every spec under test/fixtures/specs/valid/ loads without a problem. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatProblem, isShipError } from '../../src/core/index.js';
import { loadSpec } from '../../src/spec/index.js';

const dir = fileURLToPath(new URL('../fixtures/specs/valid/', import.meta.url));
const fixtures = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));

describe('valid specs', () => {
  it.each(fixtures)('%s loads', async (name) => {
    try {
      const loaded = await loadSpec(join(dir, name));
      expect(loaded.spec.version).toBe(1);
    } catch (error) {
      if (isShipError(error)) {
        throw new Error(error.problems.map(formatProblem).join('\n') || error.message);
      }
      throw error;
    }
  });
});
