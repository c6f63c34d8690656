import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { repoCorrupt, repoUnsupportedVersion } from './errors.js';

/** First header byte of every blob: ASCII `S`. */
export const BLOB_MAGIC = 0x53;
/** The blob format version this build writes and reads. */
export const BLOB_FORMAT_VERSION = 1;
/** Header bytes: magic, version, type, flags, uint32 BE length. */
export const BLOB_HEADER_BYTES = 8;
/** AES-256-GCM nonce bytes (random per blob). */
export const BLOB_NONCE_BYTES = 12;
/** AES-256-GCM tag bytes. */
export const BLOB_TAG_BYTES = 16;
/** Bytes a sealed blob adds to its payload: header, nonce and tag. */
export const BLOB_OVERHEAD_BYTES = BLOB_HEADER_BYTES + BLOB_NONCE_BYTES + BLOB_TAG_BYTES;
/** AES-256 key bytes. */
export const BLOB_KEY_BYTES = 32;
/** Largest plaintext length the uint32 header field can hold. */
export const BLOB_MAX_LENGTH = 0xffff_ffff;

/** Blob types (header byte 2). Values are part of the on-disk format: never renumber. */
export const BLOB_TYPES = {
  data: 1,
  tree: 2,
  packToc: 3,
  index: 4,
  snapshot: 5,
  configExtra: 6,
} as const;

export type BlobType = keyof typeof BLOB_TYPES;
export type BlobTypeCode = (typeof BLOB_TYPES)[BlobType];

/** Header flag bits (header byte 3). Bits not listed here must be zero. */
export const BLOB_FLAGS = {
  /** The payload is one or more zstd frames; `length` is the decompressed length. */
  compressed: 0b0000_0001,
} as const;

const KNOWN_FLAGS = BLOB_FLAGS.compressed;

const typeByCode = new Map<number, BlobType>(
  Object.entries(BLOB_TYPES).map(([name, code]) => [code, name as BlobType]),
);

/** The decoded 8-byte header of a blob. */
export interface BlobHeader {
  version: number;
  type: BlobType;
  compressed: boolean;
  /**
   * Length of the blob's content before compression: equals the payload length when
   * `compressed` is false, and is the exact decompressed length when it is true.
   */
  length: number;
}

/** How to seal a payload: its type, and whether it is compressed (then its original length). */
export type SealOptions =
  { type: BlobType; compressed: false } | { type: BlobType; compressed: true; length: number };

/** Encodes a header into its 8 bytes. Throws a plain Error on values the format cannot hold. */
export function encodeBlobHeader(header: BlobHeader): Buffer {
  if (!Number.isInteger(header.length) || header.length < 0 || header.length > BLOB_MAX_LENGTH) {
    throw new Error(`blob length ${header.length} does not fit the uint32 header field`);
  }
  const out = Buffer.alloc(BLOB_HEADER_BYTES);
  out[0] = BLOB_MAGIC;
  out[1] = header.version;
  out[2] = BLOB_TYPES[header.type];
  out[3] = header.compressed ? BLOB_FLAGS.compressed : 0;
  out.writeUInt32BE(header.length, 4);
  return out;
}

/**
 * Decodes and checks an 8-byte header: magic, version, known type, no unknown flags.
 * It does not authenticate: call it on untrusted bytes only to refuse early, and trust the
 * result (the length above all) only after the tag has been verified, as `openBlob` does.
 */
export function decodeBlobHeader(bytes: Uint8Array, what = 'blob'): BlobHeader {
  if (bytes.length < BLOB_HEADER_BYTES) {
    throw repoCorrupt(
      what,
      `truncated: ${bytes.length} bytes, a header needs ${BLOB_HEADER_BYTES}`,
    );
  }
  const magic = bytes[0] ?? 0;
  if (magic !== BLOB_MAGIC) {
    throw repoCorrupt(
      what,
      `not a shipshape blob (first byte 0x${hex2(magic)}, expected 0x${hex2(BLOB_MAGIC)})`,
    );
  }
  const version = bytes[1] ?? 0;
  if (version !== BLOB_FORMAT_VERSION) {
    throw repoUnsupportedVersion(what, version, BLOB_FORMAT_VERSION);
  }
  const typeCode = bytes[2] ?? 0;
  const type = typeByCode.get(typeCode);
  if (type === undefined) {
    throw repoCorrupt(what, `unknown blob type ${typeCode}`);
  }
  const flags = bytes[3] ?? 0;
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw repoCorrupt(what, `unknown header flags 0x${hex2(flags)}`);
  }
  const length = Buffer.from(bytes.buffer, bytes.byteOffset, BLOB_HEADER_BYTES).readUInt32BE(4);
  return { version, type, compressed: (flags & BLOB_FLAGS.compressed) !== 0, length };
}

/**
 * Encrypts and authenticates a payload into a blob:
 * `header (8) || nonce (12) || AES-256-GCM ciphertext || tag (16)`, with the whole header as
 * associated data, so a changed type, flag or length fails authentication.
 *
 * `payload` is what gets encrypted: already zstd-compressed when `options.compressed` is true
 * (then `options.length` is its decompressed length), the plain content otherwise.
 *
 * @example
 * const sealed = sealBlob(subkeys.encryption, { type: 'index', compressed: false }, json);
 */
export function sealBlob(key: Uint8Array, options: SealOptions, payload: Uint8Array): Buffer {
  checkKey(key);
  const length = options.compressed ? options.length : payload.length;
  const header = encodeBlobHeader({
    version: BLOB_FORMAT_VERSION,
    type: options.type,
    compressed: options.compressed,
    length,
  });
  const nonce = randomBytes(BLOB_NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: BLOB_TAG_BYTES });
  cipher.setAAD(header);
  const body = cipher.update(payload);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  return Buffer.concat(
    [header, nonce, body, tail, tag],
    BLOB_OVERHEAD_BYTES + body.length + tail.length,
  );
}

/** Options for {@link openBlob}. */
export interface OpenBlobOptions {
  /** Names the object being read in errors, e.g. `data blob 3f2a… in pack 9c1e…`. */
  what?: string;
}

/**
 * Authenticates and decrypts a blob, and checks it is of the expected type.
 * Returns the header and the decrypted payload (`plaintext`), which is still zstd-compressed
 * when `header.compressed` is true: decompress it to exactly `header.length` bytes.
 *
 * Throws `SHIP_REPO_CORRUPT` (exit 11) on truncation, a wrong magic, a failed tag (damage, or
 * the wrong key), an unexpected type or an inconsistent length; and
 * `SHIP_REPO_UNSUPPORTED_VERSION` (exit 11) on a format version it does not know.
 */
export function openBlob(
  key: Uint8Array,
  sealed: Uint8Array,
  expectedType: BlobType,
  options: OpenBlobOptions = {},
): { header: BlobHeader; plaintext: Buffer } {
  checkKey(key);
  const what = options.what ?? `${expectedType} blob`;
  if (sealed.length < BLOB_OVERHEAD_BYTES) {
    throw repoCorrupt(
      what,
      `truncated: ${sealed.length} bytes, a blob has at least ${BLOB_OVERHEAD_BYTES}`,
    );
  }
  // Checks the header's shape (and refuses unknown versions, whose layout may differ) but
  // trusts nothing in it until the tag below has verified it.
  const header = decodeBlobHeader(sealed, what);
  const view = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const headerBytes = view.subarray(0, BLOB_HEADER_BYTES);
  const nonce = view.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + BLOB_NONCE_BYTES);
  const body = view.subarray(BLOB_HEADER_BYTES + BLOB_NONCE_BYTES, view.length - BLOB_TAG_BYTES);
  const tag = view.subarray(view.length - BLOB_TAG_BYTES);

  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, {
      authTagLength: BLOB_TAG_BYTES,
    });
    decipher.setAAD(headerBytes);
    decipher.setAuthTag(tag);
    const head = decipher.update(body);
    const tail = decipher.final();
    plaintext = tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch (error) {
    throw repoCorrupt(
      what,
      'authentication failed: the blob was modified or damaged, or it was sealed with another key',
      { cause: error },
    );
  }

  if (header.type !== expectedType) {
    throw repoCorrupt(what, `is a ${header.type} blob, expected a ${expectedType} blob`);
  }
  if (!header.compressed && header.length !== plaintext.length) {
    throw repoCorrupt(
      what,
      `header says ${header.length} bytes but the payload holds ${plaintext.length}`,
    );
  }
  return { header, plaintext };
}

function checkKey(key: Uint8Array): void {
  if (key.length !== BLOB_KEY_BYTES) {
    throw new Error(`blob key must be ${BLOB_KEY_BYTES} bytes, got ${key.length}`);
  }
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, '0');
}
