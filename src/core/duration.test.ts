import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';
import { ShipError } from './errors.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['90d', 90 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['1w2d3h4m5s6ms', 788_645_006],
    ['0s', 0],
    [' 5m ', 300_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'it is empty'],
    ['30', '`30` has no unit'],
    ['1.5h', 'fractions are not allowed'],
    ['1mo', 'months and years vary'],
    ['2y', 'months and years vary'],
    ['-5m', 'cannot be negative'],
    ['30x', '`30x` is not a number followed by a unit'],
    ['30m1h', '`h` comes after a smaller or equal unit'],
    ['5m5m', '`m` comes after a smaller or equal unit'],
    ['1h 30m', '` 30m` is not a number'],
    ['99999999999999999999w', 'too large'],
  ])('rejects %j (%s)', (text, why) => {
    let caught: unknown;
    try {
      parseDuration(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ShipError);
    const error = caught as ShipError;
    expect(error.code).toBe('SHIP_BAD_DURATION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(why);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [5_400_000, '1h30m'],
    [14 * 86_400_000, '2w'],
    [10 * 86_400_000, '1w3d'],
    [788_645_006, '1w2d3h4m5s6ms'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });

  it('refuses negative and fractional input', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(1.5)).toThrow(RangeError);
  });
});
