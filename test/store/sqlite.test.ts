import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openStore, storeLocation } from '../../src/store/index.js';
import { describeStoreConformance, type FreshStore } from './conformance.js';

async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function fresh(): Promise<FreshStore> {
  const { dir, cleanup } = await tempDir();
  return { location: storeLocation(dir, {}), cleanup };
}

describeStoreConformance({
  dialect: 'sqlite',
  fresh,
  async unreachable() {
    // The parent "directory" is a regular file: nothing can be created under it.
    const { dir, cleanup } = await tempDir();
    await writeFile(join(dir, 'not-a-dir'), 'x');
    return {
      location: { dialect: 'sqlite', path: join(dir, 'not-a-dir', '.shipshape', 'state.db') },
      cleanup,
    };
  },
  async corrupt() {
    const store = await fresh();
    if (store.location.dialect !== 'sqlite') throw new Error('expected an SQLite location');
    const { path } = store.location;
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, randomBytes(16_384));
    return store;
  },
});

describe('sqlite store specifics', () => {
  it('creates .shipshape/ with mode 0700 and state.db with mode 0600', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const location = storeLocation(dir, {});
      const store = await openStore(location);
      await store.close();
      expect((await stat(join(dir, '.shipshape'))).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, '.shipshape', 'state.db'))).mode & 0o777).toBe(0o600);
    } finally {
      await cleanup();
    }
  });

  it('runs in WAL mode with synchronous=FULL, foreign keys on and a busy timeout', async () => {
    const { dir, cleanup } = await tempDir();
    const store = await openStore(storeLocation(dir, {}));
    try {
      const pragma = async (name: string) =>
        Object.values(
          (await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(store.db))
            .rows[0]!,
        )[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('synchronous')).toBe(2); // FULL
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('busy_timeout')).toBeGreaterThanOrEqual(10_000);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  it('reports a directory in place of the database file as unreachable', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await mkdir(join(dir, '.shipshape', 'state.db'), { recursive: true });
      await expect(openStore(storeLocation(dir, {}))).rejects.toMatchObject({
        code: 'SHIP_STORE_UNREACHABLE',
        exitCode: 3,
      });
    } finally {
      await cleanup();
    }
  });
});
