import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { ExitCode, ShipError } from '../../core/index.js';

import { CompressPool } from './pool.js';

const pools: CompressPool[] = [];
function pool(options: ConstructorParameters<typeof CompressPool>[0] = {}): CompressPool {
  const created = new CompressPool(options);
  pools.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((created) => created.close()));
});

function text(bytes: number, seed = 0): Buffer {
  const line = `row ${seed} | alice | 2026-11-22 | 0000000000 | ${'x'.repeat(seed % 13)}\n`;
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length))).subarray(0, bytes);
}

describe('CompressPool', () => {
  it('round-trips compressible data through the workers', async () => {
    const workers = pool({ workers: 2, level: 3 });
    const input = text(1 << 20);
    const { data, compressed } = await workers.compress(input);
    expect(compressed).toBe(true);
    expect(data.length).toBeLessThan(input.length / 10);
    expect((await workers.decompress(data, input.length)).equals(input)).toBe(true);
  });

  it('stores incompressible data uncompressed, returning the input untouched', async () => {
    const workers = pool({ workers: 1 });
    const random = randomBytes(256 * 1024);
    const result = await workers.compress(random);
    expect(result.compressed).toBe(false);
    expect(result.data).toBe(random);
    expect(random.buffer.byteLength).toBeGreaterThan(0); // not detached
  });

  it('compresses a view without detaching or shipping its whole backing buffer', async () => {
    const workers = pool({ workers: 1 });
    const big = text(4 << 20);
    const view = big.subarray(1000, 1000 + 100_000);
    const { data } = await workers.compress(view);
    expect((await workers.decompress(data, view.length)).equals(view)).toBe(true);
    expect(big.length).toBe(4 << 20);
  });

  it('runs many concurrent jobs with a small queue, each result matching its input', async () => {
    const workers = pool({ workers: 2, maxQueued: 1 });
    const inputs = Array.from({ length: 60 }, (_, index) =>
      index % 3 === 0 ? randomBytes(20_000 + index) : text(50_000 + index * 97, index),
    );
    let peak = 0;
    const results = await Promise.all(
      inputs.map(async (input) => {
        const result = await workers.compress(input);
        peak = Math.max(peak, workers.pending);
        return result;
      }),
    );
    expect(peak).toBeLessThanOrEqual(workers.size + workers.maxQueued);
    const restored = await Promise.all(
      results.map((result, index) =>
        result.compressed
          ? workers.decompress(result.data, inputs[index]!.length)
          : Promise.resolve(result.data),
      ),
    );
    restored.forEach((data, index) => {
      expect(digest(data)).toBe(digest(inputs[index]!));
    });
    expect(workers.pending).toBe(0);
  });

  it('applies back-pressure: calls beyond workers + maxQueued wait for a place', async () => {
    const workers = pool({ workers: 1, maxQueued: 1 });
    const jobs = Array.from({ length: 5 }, (_, index) => workers.compress(text(200_000, index)));
    // Synchronously after the calls, only two have been admitted; the rest wait.
    expect(workers.pending).toBe(2);
    const results = await Promise.all(jobs);
    expect(results.every((result) => result.compressed)).toBe(true);
    expect(workers.pending).toBe(0);
  });

  it('reports a corrupted frame as SHIP_REPO_CORRUPT, and keeps working after it', async () => {
    const workers = pool({ workers: 1 });
    const input = text(100_000);
    const { data } = await workers.compress(input);
    const damaged = Buffer.from(data);
    // The frame carries no checksum (GCM and chunk ids cover content), so damage its structure.
    damaged[0]! ^= 0xff;
    for (const [bytes, length] of [
      [damaged, input.length],
      [data.subarray(0, data.length - 4), input.length],
      [data, input.length - 1],
      [data, input.length + 1],
    ] as const) {
      const error = await workers.decompress(bytes, length, { what: 'data blob 7e' }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ShipError);
      expect((error as ShipError).code).toBe('SHIP_REPO_CORRUPT');
      expect((error as ShipError).exitCode).toBe(ExitCode.repoCorrupt);
      expect((error as ShipError).message).toMatch(/^data blob 7e: /);
    }
    await expect(workers.decompress(data, input.length, { maxBytes: 10 })).rejects.toThrow(
      /over the 10-byte limit/,
    );
    expect((await workers.decompress(data, input.length)).equals(input)).toBe(true);
  });

  it('closes: pending jobs reject, later calls throw, close is idempotent', async () => {
    const workers = pool({ workers: 1, maxQueued: 0 });
    const running = workers.compress(text(2 << 20));
    const waiting = workers.compress(text(2 << 20, 1));
    const settled = Promise.allSettled([running, waiting]);
    await workers.close();
    const outcomes = await settled;
    expect(outcomes.some((outcome) => outcome.status === 'rejected')).toBe(true);
    await expect(workers.compress(text(1000))).rejects.toThrow(/closed/);
    await expect(workers.close()).resolves.toBeUndefined();
  });

  it('rejects bad options', () => {
    expect(() => new CompressPool({ workers: 0 })).toThrow(ShipError);
    expect(() => new CompressPool({ level: 99 })).toThrow(ShipError);
  });

  it('does not keep the process alive when idle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-pool-'));
    try {
      const script = join(dir, 'idle.mts');
      const poolModule = fileURLToPath(new URL('./pool.ts', import.meta.url));
      await writeFile(
        script,
        [
          `import { CompressPool } from ${JSON.stringify(poolModule)};`,
          `const pool = new CompressPool({ workers: 2 });`,
          `const { compressed } = await pool.compress(Buffer.alloc(100000, 'a'));`,
          `console.log(compressed ? 'compressed' : 'stored');`,
          `// no close(): the process must still exit on its own`,
        ].join('\n'),
      );
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(out.trim()).toBe('compressed');
      expect(code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

function digest(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
