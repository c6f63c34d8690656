/**
 * The repository-backend conformance suite. Every backend (the local directory, S3 through
 * s3rver) runs all of it; a test that needs a capability the backend does not declare is
 * skipped, and its title says which capability and why.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isShipError, type ShipError } from '../../src/core/index.js';
import {
  BackendCapability,
  FILE_TYPES,
  type Backend,
  type BackendCapabilities,
  type BackendCapabilityName,
  type FileType,
} from '../../src/repo/index.js';

export interface FreshBackend {
  backend: Backend;
  cleanup: () => Promise<void>;
}

export interface BackendHarness {
  /** Shown in test titles: `fs`, `s3 (s3rver)`. */
  name: string;
  /** What the backend declares; the suite checks `backend.capabilities` says the same. */
  capabilities: BackendCapabilities;
  /** A backend over a new, empty repository location. */
  fresh(): Promise<FreshBackend>;
  /**
   * Leaves behind what an interrupted put of `type/name` leaves (a temp file, an unfinished
   * multipart upload), or why this backend cannot simulate one.
   */
  interruptedPut:
    ((backend: Backend, type: FileType, name: string) => Promise<void>) | { skip: string };
}

const MiB = 1024 * 1024;

/** Reproducible pseudo-random bytes: the AES-256-CTR keystream under a one-byte seed. */
function pseudoRandom(bytes: number, seed: number): Buffer {
  return createCipheriv('aes-256-ctr', Buffer.alloc(32, seed), Buffer.alloc(16)).update(
    Buffer.alloc(bytes),
  );
}

async function* streamOf(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) {
    await Promise.resolve();
    yield part;
  }
}

async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!isShipError(error)) throw error;
  return error;
}

async function listed(backend: Backend, type: FileType): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for await (const info of backend.list(type)) out.push({ name: info.name, size: info.size });
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A name valid for the type (data names start with two hex digits). */
function nameFor(type: FileType, suffix: string): string {
  return type === 'config' ? 'config' : `ab${suffix}`;
}

/** Registers the conformance suite for one backend. */
export function describeBackendConformance(harness: BackendHarness): void {
  describe(`backend conformance: ${harness.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function fresh(): Promise<Backend> {
      const made = await harness.fresh();
      cleanups.push(async () => {
        await made.backend.close();
        await made.cleanup();
      });
      return made.backend;
    }

    /** Checks a listing, where the backend promises list-after-write (else list may lag). */
    async function expectListed(
      backend: Backend,
      type: FileType,
      expected: { name: string; size: number }[],
    ): Promise<void> {
      if (harness.capabilities.listAfterWrite)
        expect(await listed(backend, type)).toEqual(expected);
    }

    /** `it`, or `it.skip` with the reason in the title when a capability is missing. */
    function withCapability(capability: BackendCapabilityName) {
      return (title: string, fn: () => Promise<void>) => {
        if (harness.capabilities[capability]) {
          it(title, fn);
        } else {
          it.skip(
            `${title} — skipped: ${harness.name} lacks ${capability} (${BackendCapability[capability].guarantee})`,
            fn,
          );
        }
      };
    }

    it('declares the capabilities the harness expects', async () => {
      const backend = await fresh();
      expect(backend.capabilities).toEqual(harness.capabilities);
      expect(backend.location).not.toBe('');
    });

    it('round-trips a Buffer in every file type', async () => {
      const backend = await fresh();
      for (const [i, type] of FILE_TYPES.entries()) {
        const body = pseudoRandom(1000 + i, i);
        await backend.put(type, nameFor(type, `0${i}`), body);
        expect((await backend.get(type, nameFor(type, `0${i}`))).equals(body)).toBe(true);
        expect(await backend.stat(type, nameFor(type, `0${i}`))).toEqual({ size: body.length });
      }
    });

    it('round-trips a stream, an empty object and a Node Readable', async () => {
      const backend = await fresh();
      const parts = [
        pseudoRandom(70_000, 1),
        Buffer.alloc(0),
        pseudoRandom(3, 2),
        pseudoRandom(65_536, 3),
      ];
      await backend.put('data', 'ab01', streamOf(...parts));
      expect((await backend.get('data', 'ab01')).equals(Buffer.concat(parts))).toBe(true);
      await backend.put('index', 'empty', Buffer.alloc(0));
      expect(await backend.get('index', 'empty')).toEqual(Buffer.alloc(0));
      expect(await backend.stat('index', 'empty')).toEqual({ size: 0 });
      const { Readable } = await import('node:stream');
      await backend.put('snapshots', 's1', Readable.from([Buffer.from('abc'), Buffer.from('def')]));
      expect((await backend.get('snapshots', 's1')).toString()).toBe('abcdef');
    });

    it('reads ranges', async () => {
      const backend = await fresh();
      const body = pseudoRandom(10_000, 4);
      await backend.put('data', 'ab02', body);
      expect(
        (await backend.get('data', 'ab02', { offset: 0, length: 10 })).equals(body.subarray(0, 10)),
      ).toBe(true);
      expect(
        (await backend.get('data', 'ab02', { offset: 4321, length: 1234 })).equals(
          body.subarray(4321, 5555),
        ),
      ).toBe(true);
      expect(
        (await backend.get('data', 'ab02', { offset: 9000 })).equals(body.subarray(9000)),
      ).toBe(true);
      expect(
        (await backend.get('data', 'ab02', { offset: 9990, length: 10 })).equals(
          body.subarray(9990),
        ),
      ).toBe(true);
      expect(await backend.get('data', 'ab02', { offset: 500, length: 0 })).toEqual(
        Buffer.alloc(0),
      );
      expect(await backend.get('data', 'ab02', { offset: 10_000 })).toEqual(Buffer.alloc(0));
      const past = await rejection(backend.get('data', 'ab02', { offset: 9995, length: 10 }));
      expect(past.code).toBe('SHIP_REPO_CORRUPT');
      expect(past.exitCode).toBe(11);
      expect(past.message).toContain('is 10000 bytes');
      await expect(backend.get('data', 'ab02', { offset: -1 })).rejects.toThrow(RangeError);
    });

    it('replaces an object on a plain put', async () => {
      const backend = await fresh();
      await backend.put('index', 'i1', Buffer.from('first version'));
      await backend.put('index', 'i1', Buffer.from('second'));
      expect((await backend.get('index', 'i1')).toString()).toBe('second');
      await expectListed(backend, 'index', [{ name: 'i1', size: 6 }]);
    });

    withCapability('conditionalPut')(
      'refuses an ifAbsent put over an existing object',
      async () => {
        const backend = await fresh();
        await backend.put('locks', 'l1', Buffer.from('mine'), { ifAbsent: true });
        const conflict = await rejection(
          backend.put('locks', 'l1', Buffer.from('theirs'), { ifAbsent: true }),
        );
        expect(conflict.code).toBe('SHIP_REPO_EXISTS');
        expect(conflict.message).toContain('locks/l1');
        const streamed = await rejection(
          backend.put('locks', 'l1', streamOf(Buffer.from('x')), { ifAbsent: true }),
        );
        expect(streamed.code).toBe('SHIP_REPO_EXISTS');
        expect((await backend.get('locks', 'l1')).toString()).toBe('mine');
        await expectListed(backend, 'locks', [{ name: 'l1', size: 4 }]);
        await backend.put('config', 'config', Buffer.from('c'), { ifAbsent: true });
        expect(
          (await rejection(backend.put('config', 'config', Buffer.from('d'), { ifAbsent: true })))
            .code,
        ).toBe('SHIP_REPO_EXISTS');
      },
    );

    withCapability('conditionalPut')(
      'lets exactly one of many racing ifAbsent puts win',
      async () => {
        const backend = await fresh();
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            backend.put('locks', 'race', Buffer.from(`writer ${i}`), { ifAbsent: true }),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const result of results) {
          if (result.status === 'rejected')
            expect((result.reason as ShipError).code).toBe('SHIP_REPO_EXISTS');
        }
        expect((await backend.get('locks', 'race')).toString()).toMatch(/^writer \d$/);
      },
    );

    withCapability('listAfterWrite')('lists what was written, per type, with sizes', async () => {
      const backend = await fresh();
      expect(await listed(backend, 'data')).toEqual([]);
      expect(await listed(backend, 'config')).toEqual([]);
      await backend.put('data', 'ab03', Buffer.alloc(3));
      await backend.put('data', 'cd04', Buffer.alloc(4));
      await backend.put('data', '0f05', streamOf(Buffer.alloc(5)));
      await backend.put('snapshots', 'ab03', Buffer.alloc(7));
      await backend.put('config', 'config', Buffer.alloc(2));
      expect(await listed(backend, 'data')).toEqual([
        { name: '0f05', size: 5 },
        { name: 'ab03', size: 3 },
        { name: 'cd04', size: 4 },
      ]);
      expect(await listed(backend, 'snapshots')).toEqual([{ name: 'ab03', size: 7 }]);
      expect(await listed(backend, 'config')).toEqual([{ name: 'config', size: 2 }]);
      expect(await listed(backend, 'keys')).toEqual([]);
    });

    if ('skip' in harness.interruptedPut) {
      it.skip(`ignores interrupted puts — skipped: ${harness.interruptedPut.skip}`, () =>
        undefined);
    } else {
      const interrupt = harness.interruptedPut;
      it('does not list, stat or read an interrupted put', async () => {
        const backend = await fresh();
        await backend.put('data', 'ab06', Buffer.from('complete'));
        await interrupt(backend, 'data', 'ab07');
        await interrupt(backend, 'snapshots', 's7');
        await expectListed(backend, 'data', [{ name: 'ab06', size: 8 }]);
        await expectListed(backend, 'snapshots', []);
        expect(await backend.stat('data', 'ab07')).toBeUndefined();
        expect((await rejection(backend.get('data', 'ab07'))).code).toBe('SHIP_REPO_NOT_FOUND');
      });
    }

    withCapability('atomicCreate')(
      'leaves no object when the source stream fails, and passes its error through',
      async () => {
        const backend = await fresh();
        async function* failing(): AsyncGenerator<Buffer> {
          yield pseudoRandom(100_000, 5);
          await Promise.resolve();
          throw new Error('source broke');
        }
        await expect(backend.put('data', 'ab08', failing())).rejects.toThrow('source broke');
        expect(await backend.stat('data', 'ab08')).toBeUndefined();
        await expectListed(backend, 'data', []);
      },
    );

    withCapability('delete')(
      'removes objects; removing a missing one is not an error',
      async () => {
        const backend = await fresh();
        await backend.put('locks', 'l2', Buffer.from('x'));
        await backend.remove('locks', 'l2');
        expect(await backend.stat('locks', 'l2')).toBeUndefined();
        await expectListed(backend, 'locks', []);
        await backend.remove('locks', 'l2');
        await backend.remove('data', 'ee99');
      },
    );

    it('reports a missing object as SHIP_REPO_NOT_FOUND (exit 11) naming it', async () => {
      const backend = await fresh();
      expect(await backend.stat('keys', 'k1')).toBeUndefined();
      const missing = await rejection(backend.get('keys', 'k1'));
      expect(missing.code).toBe('SHIP_REPO_NOT_FOUND');
      expect(missing.exitCode).toBe(11);
      expect(missing.message).toContain('keys/k1');
      expect((await rejection(backend.get('data', 'ab09', { offset: 0, length: 1 }))).code).toBe(
        'SHIP_REPO_NOT_FOUND',
      );
    });

    it.each([
      ['keys', '../x'],
      ['keys', '..'],
      ['keys', '.'],
      ['keys', ''],
      ['keys', 'a/b'],
      ['keys', 'a\\b'],
      ['keys', '/etc/passwd'],
      ['keys', '.tmp-123'],
      ['keys', 'nul\0byte'],
      ['keys', 'x'.repeat(201)],
      ['data', 'zz00'],
      ['data', 'AB00'],
      ['data', 'a'],
      ['data', '../../config'],
      ['config', 'other'],
      ['nonsense', 'x'],
    ])('refuses the name %s/%j before any I/O', async (type, name) => {
      const backend = await fresh();
      const t = type as FileType;
      const attempts: (() => Promise<unknown>)[] = [
        () => backend.put(t, name, Buffer.from('x')),
        () => backend.get(t, name),
        () => backend.stat(t, name),
        () => backend.remove(t, name),
      ];
      if (type === 'nonsense') attempts.push(() => listed(backend, t));
      for (const attempt of attempts) {
        const refused = await rejection(Promise.resolve().then(attempt));
        expect(refused.code).toBe('SHIP_REPO_BAD_NAME');
        expect(refused.exitCode).toBe(2);
      }
    });

    it('streams a 40 MiB object without holding it: each chunk is consumed before the next', async () => {
      const backend = await fresh();
      const digest = createHash('sha256');
      // One reused 1 MiB buffer, scribbled over as soon as the next chunk is asked for: a backend
      // that kept chunks instead of writing them would store garbage.
      async function* reused(): AsyncGenerator<Buffer> {
        const buffer = Buffer.alloc(MiB);
        for (let i = 0; i < 40; i++) {
          pseudoRandom(MiB, i).copy(buffer);
          digest.update(buffer);
          await Promise.resolve();
          yield buffer;
          buffer.fill(0xee);
        }
      }
      await backend.put('data', 'ab10', reused());
      expect(await backend.stat('data', 'ab10')).toEqual({ size: 40 * MiB });
      const back = await backend.get('data', 'ab10');
      expect(createHash('sha256').update(back).digest('hex')).toBe(digest.digest('hex'));
      const tail = await backend.get('data', 'ab10', { offset: 39 * MiB + 5, length: 100 });
      expect(tail.equals(pseudoRandom(MiB, 39).subarray(5, 105))).toBe(true);
    });
  });
}
