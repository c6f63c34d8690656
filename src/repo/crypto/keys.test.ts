import { describe, expect, it } from 'vitest';

import { ExitCode, ShipError } from '../../core/index.js';

import {
  keyFileId,
  parseKeyFile,
  parseKeyFileText,
  serializeKeyFile,
  type KeyFile,
} from './key-file.js';
import {
  DEFAULT_SCRYPT_PARAMS,
  createKeyFile,
  deriveSubkeys,
  generateMasterKey,
  openKeyFile,
  openWithAnyKey,
} from './keys.js';

/** Cheap scrypt cost for tests (the default costs ~0.5 s per call). */
const cheap = { N: 1024, r: 8, p: 1 };

async function failure(run: () => Promise<unknown>): Promise<ShipError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ShipError);
    return error as ShipError;
  }
  throw new Error('expected a ShipError, nothing was thrown');
}

describe('generateMasterKey / deriveSubkeys', () => {
  it('makes 64 random bytes', () => {
    const a = generateMasterKey();
    expect(a.length).toBe(64);
    expect(a.equals(generateMasterKey())).toBe(false);
  });

  it('derives distinct, deterministic 32-byte sub-keys (pinned HKDF vectors)', () => {
    const master = Buffer.from(Array.from({ length: 64 }, (_, index) => index));
    const keys = deriveSubkeys(master);
    // Pinned: changing these breaks every existing repository.
    expect(keys.encryption.toString('hex')).toBe(
      '352149f193e0aa4feb6d1a170c1f557b4d0efd1f31f49874e6bd524f8dcf2de7',
    );
    expect(keys.chunkId.toString('hex')).toBe(
      'a6a0bc4aa709009fb6740e42c4ffda06c01c6db41154adf3adabaaa3626408f1',
    );
    expect(keys.chunker.toString('hex')).toBe(
      'c7fd24cf510d297ea227da96c899b9961657d129f795afe0ebc1694bba48d607',
    );
    expect(deriveSubkeys(master)).toEqual(keys);
    const other = deriveSubkeys(generateMasterKey());
    expect(other.encryption.equals(keys.encryption)).toBe(false);
  });

  it('rejects a master key of the wrong size', () => {
    expect(() => deriveSubkeys(Buffer.alloc(32))).toThrow(/64 bytes/);
  });
});

describe('createKeyFile / openKeyFile', () => {
  it('round-trips, through the serialized text too', async () => {
    const master = generateMasterKey();
    const created = new Date('2026-11-22T08:00:00.000Z');
    const { id, file } = await createKeyFile(master, 'correct horse', {
      kdf: cheap,
      label: 'ci',
      host: 'build-1',
      user: 'ana',
      created,
    });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(keyFileId(file));
    expect(file).toMatchObject({
      version: 1,
      kdf: 'scrypt',
      ...cheap,
      created: created.toISOString(),
      host: 'build-1',
      user: 'ana',
      label: 'ci',
    });
    expect((await openKeyFile(file, 'correct horse')).equals(master)).toBe(true);

    const text = serializeKeyFile(file);
    const reread = parseKeyFileText(text, id);
    expect(reread).toEqual(file);
    expect((await openKeyFile(JSON.parse(text), 'correct horse', { id })).equals(master)).toBe(
      true,
    );
    // Bytes work as a password too, and equal the UTF-8 of the text.
    expect((await openKeyFile(file, Buffer.from('correct horse', 'utf8'))).equals(master)).toBe(
      true,
    );
  });

  it('opens the test vector of docs/repository-format.md', async () => {
    const file = {
      version: 1,
      kdf: 'scrypt',
      N: 1024,
      r: 8,
      p: 1,
      salt: 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=',
      nonce: 'BAQEBAQEBAQEBAQE',
      wrapped:
        'I10ugriBuALQnwCKyKWlYHCI6zBvknx1hhKBl0er7c0lD6dc5XWdnJ6SEbu/hg8wej277Bi0dZlbJHrllCuNNd8VX8QbrKq/yQIdzA5+56I=',
      created: '2026-11-22T08:00:00.000Z',
      host: 'backup-host',
      user: 'ana',
      label: 'test vector',
    };
    const id = 'b17a4e7d4532999d809f89b562f837bf74cc26bcbf8c0d5e6f61c15b84675a2d';
    expect(keyFileId(parseKeyFile(file))).toBe(id);
    const master = await openKeyFile(file, 'correct horse battery staple', { id });
    expect(master.equals(Buffer.from(Array.from({ length: 64 }, (_, index) => index)))).toBe(true);
  });

  it('opens with the default scrypt cost (maxmem sized to N·r)', async () => {
    const master = generateMasterKey();
    const { file } = await createKeyFile(master, 'pw');
    expect(file).toMatchObject(DEFAULT_SCRYPT_PARAMS);
    expect((await openKeyFile(file, 'pw')).equals(master)).toBe(true);
  });

  it('several key files open the same master key', async () => {
    const master = generateMasterKey();
    const one = await createKeyFile(master, 'one', { kdf: cheap });
    const two = await createKeyFile(master, 'two', { kdf: cheap });
    expect(one.id).not.toBe(two.id);
    expect((await openKeyFile(two.file, 'two')).equals(await openKeyFile(one.file, 'one'))).toBe(
      true,
    );
  });

  it('reports a wrong password as SHIP_REPO_WRONG_KEY, exit 12', async () => {
    const { id, file } = await createKeyFile(generateMasterKey(), 'right', {
      kdf: cheap,
      label: 'laptop',
    });
    const error = await failure(() => openKeyFile(file, 'wrong', { id }));
    expect(error.code).toBe('SHIP_REPO_WRONG_KEY');
    expect(error.exitCode).toBe(ExitCode.wrongKey);
    expect(error.message).toBe(`the password does not open key file ${id} (laptop)`);
  });

  it('reports a malformed key file as SHIP_REPO_CORRUPT naming the key id and field', async () => {
    const { id, file } = await createKeyFile(generateMasterKey(), 'pw', { kdf: cheap });
    const cases: [unknown, string][] = [
      [{ ...file, salt: 'not base64!' }, '`salt`'],
      [{ ...file, wrapped: Buffer.alloc(10).toString('base64') }, '`wrapped`'],
      [{ ...file, N: 1000 }, 'power of two'],
      [{ ...file, N: 2 ** 24, r: 64 }, '`N`'],
      [{ ...file, extra: true }, 'extra'],
      [{ ...file, kdf: 'argon2id' }, '`kdf`'],
      [(({ nonce: _nonce, ...rest }: KeyFile) => rest)(file), '`nonce`'],
      ['a string', 'malformed key file'],
      [null, 'malformed key file'],
    ];
    for (const [value, mention] of cases) {
      const error = await failure(() => openKeyFile(value, 'pw', { id }));
      expect(error.code).toBe('SHIP_REPO_CORRUPT');
      expect(error.exitCode).toBe(ExitCode.repoCorrupt);
      expect(error.message).toContain(`key file ${id}: malformed key file`);
      expect(error.message).toContain(mention);
    }
    const notJson = await failure(() => Promise.resolve().then(() => parseKeyFileText('{', id)));
    expect(notJson.code).toBe('SHIP_REPO_CORRUPT');
    expect(notJson.message).toContain('not valid JSON');
  });

  it('detects a key file whose content does not match its id', async () => {
    const { id, file } = await createKeyFile(generateMasterKey(), 'pw', {
      kdf: cheap,
      label: 'old',
    });
    const edited = { ...file, label: 'new' };
    const error = await failure(() => openKeyFile(edited, 'pw', { id }));
    expect(error.code).toBe('SHIP_REPO_CORRUPT');
    expect(error.message).toContain(`key file ${id}: content does not match its id`);
    // Without the stored id the edit still fails: the id is the wrapping's associated data.
    const unwrapped = await failure(() => openKeyFile(edited, 'pw'));
    expect(unwrapped.code).toBe('SHIP_REPO_WRONG_KEY');
  });

  it('refuses an unknown key-file version with a clear message', async () => {
    const { id, file } = await createKeyFile(generateMasterKey(), 'pw', { kdf: cheap });
    const error = await failure(() => openKeyFile({ ...file, version: 2 }, 'pw', { id }));
    expect(error.code).toBe('SHIP_REPO_UNSUPPORTED_VERSION');
    expect(error.exitCode).toBe(ExitCode.repoCorrupt);
    expect(error.message).toContain('format version 2 is not supported');
  });

  it('refuses an empty password and impossible scrypt parameters at creation', async () => {
    const empty = await failure(() => createKeyFile(generateMasterKey(), '', { kdf: cheap }));
    expect(empty.code).toBe('SHIP_REPO_PASSWORD_EMPTY');
    expect(empty.exitCode).toBe(ExitCode.usage);
    const bad = await failure(() =>
      createKeyFile(generateMasterKey(), 'pw', { kdf: { N: 1000, r: 8, p: 1 } }),
    );
    expect(bad.code).toBe('SHIP_REPO_BAD_KEY_PARAMS');
  });
});

describe('openWithAnyKey', () => {
  it('opens with whichever key the password fits, skipping damaged ones', async () => {
    const master = generateMasterKey();
    const one = await createKeyFile(master, 'one', { kdf: cheap });
    const two = await createKeyFile(master, 'two', { kdf: cheap });
    const broken = { id: 'f'.repeat(64), file: { version: 1 } };
    const keys = [broken, one, two];
    const opened = await openWithAnyKey(keys, 'two');
    expect(opened.id).toBe(two.id);
    expect(opened.master.equals(master)).toBe(true);

    const wrong = await failure(() => openWithAnyKey(keys, 'three'));
    expect(wrong.code).toBe('SHIP_REPO_WRONG_KEY');
    expect(wrong.exitCode).toBe(ExitCode.wrongKey);
    expect(wrong.message).toBe(
      "the password opens none of the repository's 2 key file(s) (1 damaged key file(s) skipped)",
    );

    const none = await failure(() => openWithAnyKey([], 'one'));
    expect(none.code).toBe('SHIP_REPO_CORRUPT');
    const allBroken = await failure(() => openWithAnyKey([broken], 'one'));
    expect(allBroken.code).toBe('SHIP_REPO_CORRUPT');
    expect(allBroken.message).toContain(`key file ${'f'.repeat(64)}`);
  });
});
