import { createCipheriv } from 'node:crypto';
import { ShipError } from '../../core/index.js';

/** 256 pseudo-random 32-bit values, one per byte value, that drive the gear rolling hash. */
export type GearTable = Uint32Array;

/** Length of the chunker key: the 32-byte `shipshape-repo/v1 chunker` sub-key. */
export const CHUNKER_KEY_BYTES = 32;

/**
 * Derives the gear table from the chunker key, so that someone without the key cannot predict
 * where chunk boundaries fall (and so cannot learn content from chunk sizes).
 *
 * Definition (normative, docs/repository-format.md "Chunking"): the AES-256-CTR keystream under
 * the key with an all-zero 16-byte initial counter block, 1024 bytes long; entry i is bytes
 * [4i, 4i + 4) read as an unsigned big-endian 32-bit integer.
 *
 * @throws ShipError `SHIP_REPO_CHUNKER_KEY` when the key is not 32 bytes.
 */
export function gearTable(key: Uint8Array): GearTable {
  if (key.length !== CHUNKER_KEY_BYTES) {
    throw ShipError.runtime(
      'SHIP_REPO_CHUNKER_KEY',
      `The chunker key must be ${CHUNKER_KEY_BYTES} bytes, got ${key.length}.`,
      { hint: 'derive it with HKDF-SHA-256, info "shipshape-repo/v1 chunker"' },
    );
  }
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const stream = Buffer.concat([cipher.update(Buffer.alloc(256 * 4)), cipher.final()]);
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = stream.readUInt32BE(i * 4);
  return table;
}
