import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExitCode } from './exit-codes.js';

describe('docs/exit-codes.md', () => {
  it('documents exactly the exit codes the code defines', () => {
    const doc = readFileSync(new URL('../../docs/exit-codes.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\|\s*(\d+)\s*\|\s*`(\w+)`\s*\|/gm)].map((m) => [
      m[2],
      Number(m[1]),
    ]);
    expect(Object.fromEntries(rows)).toEqual(ExitCode);
  });

  it('uses each code once', () => {
    const values = Object.values(ExitCode);
    expect(new Set(values).size).toBe(values.length);
  });
});
