import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { ExitCode, ShipError } from '../../core/index.js';

import { checkCompressionLevel, compressSync, decompressSync } from './zstd.js';

function text(bytes: number): Buffer {
  const line = 'INSERT INTO pgbench_accounts VALUES (42, 1, 0, "                ");\n';
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length))).subarray(0, bytes);
}

function corrupt(run: () => unknown): ShipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ShipError);
    const shipError = error as ShipError;
    expect(shipError.code).toBe('SHIP_REPO_CORRUPT');
    expect(shipError.exitCode).toBe(ExitCode.repoCorrupt);
    return shipError;
  }
  throw new Error('expected SHIP_REPO_CORRUPT, nothing was thrown');
}

describe('compressSync / decompressSync', () => {
  it('round-trips compressible data', () => {
    const input = text(200_000);
    const { data, compressed } = compressSync(input);
    expect(compressed).toBe(true);
    expect(data.length).toBeLessThan(input.length / 10);
    expect(decompressSync(data, input.length).equals(input)).toBe(true);
  });

  it('keeps incompressible and tiny data as it is', () => {
    const random = randomBytes(100_000);
    expect(compressSync(random)).toEqual({ data: random, compressed: false });
    const tiny = Buffer.from('abc');
    expect(compressSync(tiny)).toEqual({ data: tiny, compressed: false });
  });

  it('refuses damaged frames, wrong lengths and lengths over the cap', () => {
    const input = text(50_000);
    const { data } = compressSync(input);
    const damaged = Buffer.from(data);
    // The frame carries no checksum (GCM and chunk ids cover content), so damage its structure.
    damaged[0]! ^= 0xff;
    corrupt(() => decompressSync(damaged, input.length));
    corrupt(() => decompressSync(data.subarray(0, data.length - 3), input.length));
    corrupt(() => decompressSync(randomBytes(100), input.length));
    const longer = corrupt(() => decompressSync(data, input.length - 1, { what: 'data blob ab' }));
    expect(longer.message).toContain('data blob ab: decompresses to more than the declared');
    const shorter = corrupt(() => decompressSync(data, input.length + 1));
    expect(shorter.message).toContain(`decompressed to ${input.length} bytes`);
    const capped = corrupt(() => decompressSync(data, input.length, { maxBytes: 1000 }));
    expect(capped.message).toContain('over the 1000-byte limit');
    corrupt(() => decompressSync(data, -1));
  });

  it('validates the level', () => {
    expect(checkCompressionLevel(19)).toBe(19);
    for (const level of [0, 1.5, 23, Number.NaN]) {
      expect(() => checkCompressionLevel(level)).toThrow(ShipError);
    }
  });
});
