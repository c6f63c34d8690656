import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { ExitCode, ShipError } from '../../core/index.js';

import {
  BLOB_HEADER_BYTES,
  BLOB_NONCE_BYTES,
  BLOB_OVERHEAD_BYTES,
  BLOB_TAG_BYTES,
  BLOB_TYPES,
  decodeBlobHeader,
  encodeBlobHeader,
  openBlob,
  sealBlob,
  type BlobType,
} from './blob.js';

const key = randomBytes(32);
const payload = Buffer.from('the quick brown fox jumps over the lazy dog, again and again');

function failure(run: () => unknown): ShipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ShipError);
    return error as ShipError;
  }
  throw new Error('expected a ShipError, nothing was thrown');
}

function expectCorrupt(run: () => unknown): ShipError {
  const error = failure(run);
  expect(error.code).toBe('SHIP_REPO_CORRUPT');
  expect(error.exitCode).toBe(ExitCode.repoCorrupt);
  return error;
}

describe('sealBlob / openBlob', () => {
  it('round-trips every blob type, and empty and compressed payloads', () => {
    for (const type of Object.keys(BLOB_TYPES) as BlobType[]) {
      const sealed = sealBlob(key, { type, compressed: false }, payload);
      expect(sealed.length).toBe(payload.length + BLOB_OVERHEAD_BYTES);
      const { header, plaintext } = openBlob(key, sealed, type);
      expect(header).toEqual({ version: 1, type, compressed: false, length: payload.length });
      expect(plaintext.equals(payload)).toBe(true);
    }
    const empty = openBlob(
      key,
      sealBlob(key, { type: 'data', compressed: false }, Buffer.alloc(0)),
      'data',
    );
    expect(empty.plaintext.length).toBe(0);

    const sealed = sealBlob(key, { type: 'data', compressed: true, length: 1_000_000 }, payload);
    const opened = openBlob(key, sealed, 'data');
    expect(opened.header).toMatchObject({ compressed: true, length: 1_000_000 });
    expect(opened.plaintext.equals(payload)).toBe(true);
  });

  it('uses a fresh nonce per blob', () => {
    const a = sealBlob(key, { type: 'data', compressed: false }, payload);
    const b = sealBlob(key, { type: 'data', compressed: false }, payload);
    expect(a.equals(b)).toBe(false);
  });

  it('lays bytes out exactly as docs/repository-format.md says (an independent reader)', () => {
    const sealed = sealBlob(key, { type: 'index', compressed: true, length: 0x01020304 }, payload);
    expect([...sealed.subarray(0, 8)]).toEqual([0x53, 1, 4, 1, 1, 2, 3, 4]);
    const nonce = sealed.subarray(8, 20);
    const tag = sealed.subarray(sealed.length - 16);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(sealed.subarray(0, 8));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([
      decipher.update(sealed.subarray(20, sealed.length - 16)),
      decipher.final(),
    ]);
    expect(plain.equals(payload)).toBe(true);
  });

  it('opens the test vector of docs/repository-format.md', () => {
    const sealed = Buffer.from(
      '53010100000000110202020202020202020202026fb3a525257be18fb6bcd3bb35d3adc0db9db9855a19c1340938f11e9124fa6d2f',
      'hex',
    );
    const { header, plaintext } = openBlob(Buffer.alloc(32, 1), sealed, 'data');
    expect(header).toEqual({ version: 1, type: 'data', compressed: false, length: 17 });
    expect(plaintext.toString()).toBe('hello, repository');
  });

  it('detects every header byte flipped (each bit, and all bits)', () => {
    const sealed = sealBlob(key, { type: 'tree', compressed: false }, payload);
    for (let index = 0; index < BLOB_HEADER_BYTES; index++) {
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
        const bad = Buffer.from(sealed);
        bad[index] = (bad[index] ?? 0) ^ mask;
        const error = failure(() => openBlob(key, bad, 'tree'));
        expect(error.exitCode).toBe(ExitCode.repoCorrupt);
        expect(error.code).toBe(
          index === 1 ? 'SHIP_REPO_UNSUPPORTED_VERSION' : 'SHIP_REPO_CORRUPT',
        );
      }
    }
  });

  it('detects any nonce, ciphertext or tag byte flipped', () => {
    const sealed = sealBlob(key, { type: 'data', compressed: false }, payload);
    for (let index = BLOB_HEADER_BYTES; index < sealed.length; index++) {
      const bad = Buffer.from(sealed);
      bad[index] = (bad[index] ?? 0) ^ 0x01;
      const error = expectCorrupt(() => openBlob(key, bad, 'data'));
      expect(error.message).toContain('authentication failed');
    }
  });

  it('refuses a blob of another type than expected, naming both', () => {
    const sealed = sealBlob(key, { type: 'tree', compressed: false }, payload);
    const error = expectCorrupt(() => openBlob(key, sealed, 'snapshot', { what: 'snapshot 9f3a' }));
    expect(error.message).toBe('snapshot 9f3a: is a tree blob, expected a snapshot blob');
  });

  it('refuses every truncation, never crashing', () => {
    const sealed = sealBlob(key, { type: 'data', compressed: false }, payload);
    for (let length = 0; length < sealed.length; length++) {
      expectCorrupt(() => openBlob(key, sealed.subarray(0, length), 'data'));
    }
    expectCorrupt(() => openBlob(key, Buffer.concat([sealed, Buffer.from([0])]), 'data'));
  });

  it('answers hostile input only with ShipErrors (random bytes behind a valid prefix)', () => {
    for (let round = 0; round < 500; round++) {
      const junk = randomBytes(round % 90);
      if (round % 2 === 0 && junk.length >= 3) {
        junk[0] = 0x53;
        junk[1] = 1;
        junk[2] = 1 + (round % 6);
      }
      expect(() => openBlob(key, junk, 'data')).toThrow(ShipError);
    }
  });

  it('refuses a blob sealed with another key', () => {
    const sealed = sealBlob(key, { type: 'data', compressed: false }, payload);
    expectCorrupt(() => openBlob(randomBytes(32), sealed, 'data'));
  });

  it('refuses an unknown format version with a clear message', () => {
    const sealed = sealBlob(key, { type: 'snapshot', compressed: false }, payload);
    sealed[1] = 2;
    const error = failure(() => openBlob(key, sealed, 'snapshot', { what: 'snapshot 01ab' }));
    expect(error.code).toBe('SHIP_REPO_UNSUPPORTED_VERSION');
    expect(error.exitCode).toBe(ExitCode.repoCorrupt);
    expect(error.message).toContain('snapshot 01ab: format version 2 is not supported');
    expect(error.message).toContain('a newer shipshape is needed');
  });

  it('refuses an authentic header whose length disagrees with an uncompressed payload', () => {
    // Built by hand with the right key: only a buggy writer could produce it.
    const header = encodeBlobHeader({ version: 1, type: 'data', compressed: false, length: 5 });
    const nonce = randomBytes(BLOB_NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: BLOB_TAG_BYTES });
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(payload), cipher.final()]);
    const sealed = Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
    const error = expectCorrupt(() => openBlob(key, sealed, 'data'));
    expect(error.message).toContain(`header says 5 bytes but the payload holds ${payload.length}`);
  });

  it('rejects keys of the wrong size and lengths beyond uint32 as programmer errors', () => {
    expect(() => sealBlob(randomBytes(16), { type: 'data', compressed: false }, payload)).toThrow(
      /32 bytes/,
    );
    expect(() =>
      sealBlob(key, { type: 'data', compressed: true, length: 2 ** 32 }, payload),
    ).toThrow(/uint32/);
  });
});

describe('encodeBlobHeader / decodeBlobHeader', () => {
  it('round-trips and rejects unknown types and flags', () => {
    const header = { version: 1, type: 'configExtra', compressed: true, length: 42 } as const;
    const bytes = encodeBlobHeader(header);
    expect(decodeBlobHeader(bytes)).toEqual(header);
    expectCorrupt(() => decodeBlobHeader(Buffer.from([0x53, 1, 7, 0, 0, 0, 0, 0])));
    expectCorrupt(() => decodeBlobHeader(Buffer.from([0x53, 1, 1, 2, 0, 0, 0, 0])));
    expectCorrupt(() => decodeBlobHeader(Buffer.from([0x53, 1, 1])));
  });
});
