import { describe, expect, it } from 'vitest';

import { ExitCode, ShipError } from '../core/index.js';
import {
  AppendOnlyBackend,
  appendOnlyBackend,
  appendOnlyReason,
  assertCanDelete,
  isAppendOnlyBackend,
} from './append-only.js';
import { FileType, type Backend, type BackendCapabilities } from './backend/index.js';

const ALL: BackendCapabilities = {
  atomicCreate: true,
  conditionalPut: true,
  delete: true,
  listAfterWrite: true,
};

/** A map-backed backend: enough to see which calls reach the storage. */
function memoryBackend(capabilities: BackendCapabilities = ALL): Backend & {
  objects: Map<string, Buffer>;
} {
  const objects = new Map<string, Buffer>();
  return {
    location: 'memory://test',
    capabilities,
    objects,
    put(type, name, data) {
      if (!(data instanceof Uint8Array)) throw new Error('buffers only');
      objects.set(`${type}/${name}`, data);
      return Promise.resolve();
    },
    get(type, name) {
      const found = objects.get(`${type}/${name}`);
      return found === undefined ? Promise.reject(new Error('missing')) : Promise.resolve(found);
    },
    stat(type, name) {
      const found = objects.get(`${type}/${name}`);
      return Promise.resolve(found === undefined ? undefined : { size: found.length });
    },
    async *list(type) {
      await Promise.resolve();
      for (const [key, value] of objects) {
        if (key.startsWith(`${type}/`))
          yield { name: key.slice(type.length + 1), size: value.length };
      }
    },
    remove(type, name) {
      objects.delete(`${type}/${name}`);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

function thrown(fn: () => unknown): ShipError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ShipError);
    return error as ShipError;
  }
  throw new Error('expected a ShipError');
}

describe('assertCanDelete', () => {
  const keyId = 'ab'.repeat(32);

  it('lets a full key on a deleting backend delete', () => {
    const guard = { backend: memoryBackend(), keyId, keyRole: 'full' as const };
    expect(appendOnlyReason(guard)).toBeUndefined();
    expect(() => {
      assertCanDelete(guard, 'prune');
    }).not.toThrow();
  });

  it('refuses an append-only key with exit 19, naming the key, the operation and the way out', () => {
    const error = thrown(() => {
      assertCanDelete(
        { backend: memoryBackend(), keyId, keyRole: 'append-only', keyLabel: 'ci' },
        'prune',
      );
    });
    expect(error.code).toBe('SHIP_REPO_APPEND_ONLY');
    expect(error.exitCode).toBe(ExitCode.forbidden);
    expect(error.message).toContain('refusing prune on memory://test');
    expect(error.message).toContain(`key ${keyId.slice(0, 12)} (ci), an append-only key`);
    expect(error.hint).toContain('full key');
    expect(error.details).toMatchObject({ reason: 'key', keyId, operation: 'prune' });
  });

  it('refuses when opened append-only, or on a backend without delete', () => {
    const option = thrown(() => {
      assertCanDelete({ backend: memoryBackend(), keyId, appendOnly: true }, 'forget');
    });
    expect(option.details).toMatchObject({ reason: 'option' });
    expect(option.message).toContain('--append-only');
    const wrapped = thrown(() => {
      assertCanDelete({ backend: appendOnlyBackend(memoryBackend()), keyId }, 'key remove');
    });
    expect(wrapped.details).toMatchObject({ reason: 'option' });
    const noDelete = thrown(() => {
      assertCanDelete({ backend: memoryBackend({ ...ALL, delete: false }), keyId }, 'prune');
    });
    expect(noDelete.details).toMatchObject({ reason: 'backend' });
    expect(noDelete.message).toContain('does not support deleting');
  });
});

describe('AppendOnlyBackend', () => {
  it('passes reads and writes through, removes lock files, and refuses every other remove', async () => {
    const inner = memoryBackend();
    const backend = appendOnlyBackend(inner);
    expect(isAppendOnlyBackend(backend)).toBe(true);
    expect(appendOnlyBackend(backend)).toBe(backend);
    expect(backend).toBeInstanceOf(AppendOnlyBackend);
    expect(backend.capabilities).toEqual(inner.capabilities);

    await backend.put(FileType.data, 'aa01', Buffer.from('pack'));
    await backend.put(FileType.locks, 'l1', Buffer.from('lock'));
    expect((await backend.get(FileType.data, 'aa01')).toString()).toBe('pack');
    expect(await backend.stat(FileType.data, 'aa01')).toEqual({ size: 4 });
    const listed: string[] = [];
    for await (const { name } of backend.list(FileType.data)) listed.push(name);
    expect(listed).toEqual(['aa01']);

    for (const type of [
      FileType.data,
      FileType.index,
      FileType.snapshots,
      FileType.keys,
      FileType.config,
    ]) {
      await expect(backend.remove(type, 'aa01')).rejects.toMatchObject({
        code: 'SHIP_REPO_APPEND_ONLY',
        exitCode: 19,
      });
    }
    expect(inner.objects.has('data/aa01')).toBe(true);
    await backend.remove(FileType.locks, 'l1');
    expect(inner.objects.has('locks/l1')).toBe(false);
  });
});
