import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { isShipError } from '../../core/index.js';
import { chunkId, openBlob, sealBlob } from '../crypto/index.js';

import {
  ENTRY_BYTES,
  PACK_MAGIC,
  PACK_TRAILER_BYTES,
  PackWriter,
  TOC_HEADER_BYTES,
  decodeToc,
  encodeToc,
  readPackToc,
  type FinishedPack,
} from './pack.js';

const key = Buffer.alloc(32, 7);
const idKey = Buffer.alloc(32, 8);

function blob(content: Buffer): { id: string; sealed: Buffer } {
  return {
    id: chunkId(idKey, content),
    sealed: sealBlob(key, { type: 'data', compressed: false }, content),
  };
}

function bytesOf(pack: FinishedPack): Buffer {
  return Buffer.concat(pack.parts);
}

/**
 * Expects `fn` to fail as damage (exit 11): SHIP_REPO_CORRUPT, or SHIP_REPO_UNSUPPORTED_VERSION
 * when the hit byte is a blob's version. Anything else (a RangeError, a crash) fails the test.
 */
async function expectCorrupt(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (isShipError(error) && error.exitCode === 11) return;
    throw error;
  }
  throw new Error('expected SHIP_REPO_CORRUPT');
}

describe('TOC encoding', () => {
  it('matches the test vector in docs/repository-format.md', () => {
    const toc = encodeToc([
      {
        id: '11'.repeat(32),
        type: 'data',
        compressed: true,
        offset: 0,
        length: 1000,
        plaintextLength: 4096,
      },
      {
        id: '22'.repeat(32),
        type: 'tree',
        compressed: false,
        offset: 1000,
        length: 76,
        plaintextLength: 40,
      },
    ]);
    expect(toc.toString('hex')).toBe(
      '0100000000000002' +
        `${'11'.repeat(32)}0101000000000000000003e800001000` +
        `${'22'.repeat(32)}02000000000003e80000004c00000028`,
    );
    expect(decodeToc(toc, 1076, 'vector')).toHaveLength(2);
  });
});

describe('PackWriter and readPackToc', () => {
  it('writes blobs, a sealed TOC and a trailer that readPackToc reads back', async () => {
    const writer = new PackWriter(key, { targetBytes: 1000 });
    const contents = [randomBytes(100), randomBytes(1), randomBytes(700), randomBytes(300)];
    for (const content of contents) {
      const { id, sealed } = blob(content);
      writer.add(id, sealed);
      expect(writer.has(id, 'data')).toBe(true);
      expect(writer.has(id, 'tree')).toBe(false);
    }
    expect(writer.full).toBe(true);
    const pack = writer.finish();
    expect(writer.count).toBe(0);
    const bytes = bytesOf(pack);
    expect(bytes.length).toBe(pack.size);
    expect(pack.id).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.subarray(-8).equals(PACK_MAGIC)).toBe(true);

    const entries = await readPackToc(bytes, key);
    expect(entries).toEqual(pack.entries);
    entries.forEach((entry, i) => {
      const { plaintext } = openBlob(
        key,
        bytes.subarray(entry.offset, entry.offset + entry.length),
        'data',
      );
      expect(plaintext.equals(contents[i] ?? Buffer.alloc(0))).toBe(true);
      expect(entry.plaintextLength).toBe(contents[i]?.length);
    });
  });

  it('writes a blob given in pieces exactly as the same blob given whole', async () => {
    const contents = [randomBytes(100), randomBytes(3000)];
    const whole = new PackWriter(key);
    const pieces = new PackWriter(key);
    for (const content of contents) {
      const { id, sealed } = blob(content);
      whole.add(id, sealed);
      // Cut as a worker returns it: header and nonce, ciphertext, tag.
      pieces.add(id, [sealed.subarray(0, 20), sealed.subarray(20, -16), sealed.subarray(-16)]);
      expect(pieces.size).toBe(whole.size);
    }
    const a = whole.finish();
    const b = pieces.finish();
    expect(b.entries).toEqual(a.entries);
    expect(b.size).toBe(a.size);
    // The TOC is sealed with a fresh nonce, so only the blobs compare byte for byte.
    const blobsEnd = a.entries.at(-1)!.offset + a.entries.at(-1)!.length;
    expect(bytesOf(b).subarray(0, blobsEnd).equals(bytesOf(a).subarray(0, blobsEnd))).toBe(true);
    expect(b.id).toBe(createHash('sha256').update(bytesOf(b)).digest('hex'));
    expect(await readPackToc(bytesOf(b), key)).toEqual(b.entries);
    // A first piece too short for the header is damage, named as such.
    const sealed = blob(randomBytes(10)).sealed;
    expect(() => pieces.add('cd'.repeat(32), [sealed.subarray(0, 4), sealed.subarray(4)])).toThrow(
      /truncated/,
    );
  });

  it('records compressed blobs with their plaintext length', async () => {
    const writer = new PackWriter(key);
    const sealed = sealBlob(key, { type: 'data', compressed: true, length: 5000 }, randomBytes(40));
    writer.add('ab'.repeat(32), sealed);
    const [entry] = await readPackToc(bytesOf(writer.finish()), key);
    expect(entry).toMatchObject({ compressed: true, plaintextLength: 5000, length: 76 });
  });

  it('refuses metadata blobs and empty packs', () => {
    const writer = new PackWriter(key);
    expect(() => writer.finish()).toThrow(/empty/);
    expect(() =>
      writer.add(
        '00'.repeat(32),
        sealBlob(key, { type: 'index', compressed: false }, Buffer.alloc(1)),
      ),
    ).toThrow(/data and tree/);
  });

  it('rejects every single-byte change in the trailer and TOC, and truncation', async () => {
    const writer = new PackWriter(key);
    for (let i = 0; i < 3; i++) writer.add(blob(randomBytes(50)).id, blob(randomBytes(50)).sealed);
    const bytes = bytesOf(writer.finish());
    const tocLength = bytes.readUInt32BE(bytes.length - PACK_TRAILER_BYTES);
    for (let at = bytes.length - PACK_TRAILER_BYTES - tocLength; at < bytes.length; at++) {
      const damaged = Buffer.from(bytes);
      damaged[at] = (damaged[at] ?? 0) ^ 0x40;
      await expectCorrupt(() => readPackToc(damaged, key));
    }
    for (const cut of [1, 12, 100, bytes.length - 1, bytes.length]) {
      await expectCorrupt(() => readPackToc(bytes.subarray(0, bytes.length - cut), key));
    }
    await expectCorrupt(() => readPackToc(bytes, Buffer.alloc(32, 9)));
  });
});

describe('TOC fuzz: hostile input never crashes or over-allocates', () => {
  it('random packs and random trailers fail with SHIP_REPO_CORRUPT', async () => {
    for (let i = 0; i < 300; i++) {
      const pack = randomBytes(1 + (i % 200));
      // Half of them end in a valid magic, so the TOC length path is exercised too.
      if (i % 2 === 0 && pack.length >= PACK_TRAILER_BYTES) PACK_MAGIC.copy(pack, pack.length - 8);
      await expectCorrupt(() => readPackToc(pack, key));
    }
    // A huge declared TOC length must be refused before any allocation.
    const huge = Buffer.alloc(100);
    huge.writeUInt32BE(0xffff_fff0, 100 - PACK_TRAILER_BYTES);
    PACK_MAGIC.copy(huge, 92);
    await expectCorrupt(() => readPackToc(huge, key));
  });

  it('authentic but hostile TOC plaintexts fail with SHIP_REPO_CORRUPT', async () => {
    const hostile: Buffer[] = [];
    for (let i = 0; i < 300; i++) hostile.push(randomBytes(i % 150));
    const oneEntry = (mutate: (toc: Buffer) => void) => {
      const toc = Buffer.alloc(TOC_HEADER_BYTES + ENTRY_BYTES);
      toc[0] = 1;
      toc.writeUInt32BE(1, 4);
      toc[TOC_HEADER_BYTES + 32] = 1;
      toc.writeUInt32BE(36 + 10, TOC_HEADER_BYTES + 40);
      toc.writeUInt32BE(10, TOC_HEADER_BYTES + 44);
      mutate(toc);
      return toc;
    };
    hostile.push(
      oneEntry((toc) => toc.writeUInt32BE(0xffff_ffff, 4)), // count far beyond the bytes
      oneEntry((toc) => toc.writeUInt32BE(5, TOC_HEADER_BYTES + 36)), // gap before the blob
      oneEntry((toc) => toc.writeUInt32BE(0xffff_fff0, TOC_HEADER_BYTES + 40)), // past the end
      oneEntry((toc) => (toc[TOC_HEADER_BYTES + 32] = 4)), // an index blob in a pack
      oneEntry((toc) => (toc[TOC_HEADER_BYTES + 33] = 0x80)), // unknown flag
      oneEntry((toc) => toc.writeUInt32BE(9, TOC_HEADER_BYTES + 44)), // lengths disagree
      oneEntry((toc) => (toc[0] = 2)), // unknown TOC version
    );
    for (const plaintext of hostile) {
      // Sealed with the right key, so only the TOC's own checks stand between it and a reader.
      const sealedToc = sealBlob(key, { type: 'packToc', compressed: false }, plaintext);
      const blobs = randomBytes(46);
      const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
      trailer.writeUInt32BE(sealedToc.length, 0);
      PACK_MAGIC.copy(trailer, 4);
      await expectCorrupt(() => readPackToc(Buffer.concat([blobs, sealedToc, trailer]), key));
      expect(() => decodeToc(plaintext, 46, 'fuzz')).toThrow();
    }
    // The well-formed one is accepted, so the mutations above are what was refused.
    expect(
      decodeToc(
        oneEntry(() => undefined),
        46,
        'fuzz',
      ),
    ).toHaveLength(1);
  });
});
