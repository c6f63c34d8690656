import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpecErrorCode, SpecProblemCode } from './index.js';

describe('docs/spec.md', () => {
  const doc = readFileSync(new URL('../../docs/spec.md', import.meta.url), 'utf8');

  it.each([
    ...Object.values(SpecProblemCode),
    ...Object.values(SpecErrorCode),
    'SHIP_SECRET_UNSET',
    'SHIP_SECRET_UNREADABLE',
  ])('documents %s in a table row', (code) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${code}\` *\\|`, 'm'));
  });
});
