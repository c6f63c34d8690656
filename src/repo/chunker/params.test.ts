import { describe, expect, it } from 'vitest';
import { isShipError } from '../../core/index.js';
import { chunkerMasks, DEFAULT_CHUNKER_PARAMS, validateChunkerParams } from './params.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isShipError(error)) return `${error.code}:${error.exitCode}:${error.message}`;
    throw error;
  }
  throw new Error('expected a ShipError');
}

describe('validateChunkerParams', () => {
  it('accepts the defaults', () => {
    expect(validateChunkerParams(DEFAULT_CHUNKER_PARAMS)).toEqual({
      minSize: 512 * 1024,
      avgSize: 1024 * 1024,
      maxSize: 8 * 1024 * 1024,
    });
  });

  it.each([
    [
      { minSize: 1024, avgSize: 1024, maxSize: 4096 },
      /minSize \(1024\) must be smaller than avgSize/,
    ],
    [
      { minSize: 512, avgSize: 4096, maxSize: 4096 },
      /avgSize \(4096\) must be smaller than maxSize/,
    ],
    [{ minSize: 512, avgSize: 3000, maxSize: 8192 }, /avgSize must be a power of two, got 3000/],
    [{ minSize: 1.5, avgSize: 1024, maxSize: 8192 }, /minSize must be a positive integer/],
    [{ minSize: 16, avgSize: 1024, maxSize: 8192 }, /minSize must be at least 64/],
    [{ minSize: 512, avgSize: 1024, maxSize: 2 ** 31 }, /maxSize must be at most/],
  ])('refuses %j', (params, message) => {
    const got = codeOf(() => validateChunkerParams(params));
    expect(got).toMatch(/^SHIP_REPO_CHUNKER_PARAMS:2:Invalid chunker parameters: /);
    expect(got).toMatch(message);
  });
});

describe('chunkerMasks', () => {
  it('uses log2(avg) ± 2 top bits of the hash', () => {
    const masks = chunkerMasks(DEFAULT_CHUNKER_PARAMS);
    expect(masks.small >>> 0).toBe(0xfffffc00); // 22 ones
    expect(masks.large >>> 0).toBe(0xffffc000); // 18 ones
  });
});
