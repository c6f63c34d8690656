import { describe, expect, it } from 'vitest';
import { drillResultSchema, parseDrillResult } from './result-schema.js';
import { DRILL_FIXTURES, drillFixture } from '../../test/drill/fixtures/drill-results.js';

describe('drillResultSchema', () => {
  it.each(DRILL_FIXTURES)('reads the %s fixture back unchanged', (name) => {
    const result = drillFixture(name);
    expect(drillResultSchema.parse(result)).toEqual(result);
  });

  it('refuses a record without a declaration time, naming the field', () => {
    const result = drillFixture('passed');
    const plan: Record<string, unknown> = { ...result.plan };
    delete plan.declaredAt;
    const parsed = parseDrillResult({ ...result, plan });
    expect(parsed).toEqual({ ok: false, problems: [expect.stringContaining('plan.declaredAt')] });
  });

  it('refuses an unknown verdict and a phase that is not a drill phase', () => {
    const result = drillFixture('passed');
    expect(parseDrillResult({ ...result, verdict: 'maybe' }).ok).toBe(false);
    const [first, ...others] = result.datastores;
    const broken = {
      ...result,
      datastores: [
        { ...first, phases: [{ phase: 'dance', startMs: 0, endMs: 1, durationMs: 1, ok: true }] },
        ...others,
      ],
    };
    const parsed = parseDrillResult(broken);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems[0]).toMatch(/^datastores\.0\.phases\.0\.phase: /);
  });

  it('drops keys it does not know, so a newer record still reads', () => {
    const result = drillFixture('passed');
    const parsed = parseDrillResult({ ...result, futureField: 1 });
    expect(parsed).toEqual({ ok: true, result });
  });

  it('refuses something that is not an object at all', () => {
    expect(parseDrillResult('a string')).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^\(root\): /)],
    });
  });
});
