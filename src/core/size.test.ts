import { describe, expect, it } from 'vitest';
import { ShipError } from './errors.js';
import { formatSize, parseSize } from './size.js';

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['512', 512],
    ['512B', 512],
    ['512k', 524_288],
    ['1KiB', 1024],
    ['1kB', 1000],
    ['1KB', 1000],
    ['16MiB', 16_777_216],
    ['16M', 16_777_216],
    ['1GB', 1_000_000_000],
    ['1GiB', 1_073_741_824],
    ['1.5GiB', 1_610_612_736],
    ['2 TiB', 2 * 1024 ** 4],
    ['1tb', 1e12],
  ])('%s → %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'MiB', '-1k', '1XB', '1 2k', '1e3', '99999999PiB'])('rejects %j', (text) => {
    let caught: unknown;
    try {
      parseSize(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ShipError);
    expect((caught as ShipError).code).toBe('SHIP_BAD_SIZE');
    expect((caught as ShipError).exitCode).toBe(2);
  });
});

describe('formatSize', () => {
  it.each([
    [0, '0B'],
    [1023, '1023B'],
    [1024, '1KiB'],
    [1536, '1.5KiB'],
    [16_777_216, '16MiB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});
