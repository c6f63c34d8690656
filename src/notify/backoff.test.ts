import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles the ceiling per retry from 1s up to the 60s cap', () => {
    const nearlyOne = () => 0.999_999;
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((retry) =>
      Math.round(backoffDelay(retry, DEFAULT_BACKOFF, nearlyOne) / 1000),
    );
    expect(ceilings).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
  });

  it('is full jitter: anywhere from 0 to the ceiling', () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(2000);
    for (let i = 0; i < 200; i += 1) {
      const wait = backoffDelay(4, DEFAULT_BACKOFF);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(8000);
    }
  });

  it('never exceeds the cap even for absurd retry numbers or a bad random source', () => {
    expect(backoffDelay(5000, DEFAULT_BACKOFF, () => 1)).toBeLessThan(60_000);
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => -3)).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-05-01T10:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Fri, 01 May 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Fri, 01 May 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('9'.repeat(400), now)).toBeUndefined();
  });
});
