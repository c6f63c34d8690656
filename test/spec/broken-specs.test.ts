/**
 * Every broken spec under test/fixtures/specs/broken/ must fail to load with exactly the
 * messages in its sibling `.expected.txt` (the CLI prints the same `formatProblem` text).
 * After an intended change of wording, regenerate with
 * `UPDATE_FIXTURES=1 npx vitest run test/spec/broken-specs.test.ts` and review the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatProblem, isShipError } from '../../src/core/index.js';
import { parseSpec } from '../../src/spec/index.js';

const dir = fileURLToPath(new URL('../fixtures/specs/broken/', import.meta.url));
const fixtures = readdirSync(dir)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

function render(name: string): string {
  try {
    parseSpec(readFileSync(join(dir, name), 'utf8'), name);
  } catch (error) {
    if (!isShipError(error)) throw error;
    const lines = [`${error.code} (exit ${error.exitCode}): ${error.message}`];
    for (const problem of error.problems) lines.push(formatProblem(problem));
    return `${lines.join('\n')}\n`;
  }
  return 'loaded without problems\n';
}

describe('broken specs', () => {
  it('has enough fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(14);
  });

  it.each(fixtures)('%s', (name) => {
    const actual = render(name);
    const expectedFile = join(dir, name.replace(/\.yaml$/, '.expected.txt'));
    if (process.env.UPDATE_FIXTURES === '1') writeFileSync(expectedFile, actual);
    expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
  });
});
