import {
  openBlob,
  sealBlob,
  type BlobHeader,
  type BlobType,
  type OpenBlobOptions,
} from '../crypto/index.js';

import {
  DEFAULT_COMPRESSION_LEVEL,
  compressSync,
  decompressSync,
  type CompressResult,
  type DecompressOptions,
} from './zstd.js';

/** What compresses and decompresses blob contents: a {@link CompressPool}, or {@link syncCodec}. */
export interface Codec {
  compress(data: Uint8Array): Promise<CompressResult>;
  decompress(
    data: Uint8Array,
    expectedLength: number,
    options?: DecompressOptions,
  ): Promise<Buffer>;
}

/**
 * A codec on the calling thread, for small metadata blobs (trees, index, snapshots) where a
 * worker round trip costs more than the compression.
 */
export function syncCodec(level = DEFAULT_COMPRESSION_LEVEL): Codec {
  return {
    // `then` turns a throw into a rejection, as the pool's async methods behave.
    compress: (data) => Promise.resolve().then(() => compressSync(data, level)),
    decompress: (data, expectedLength, options) =>
      Promise.resolve().then(() => decompressSync(data, expectedLength, options)),
  };
}

/** A sealed blob and what compression did to it. */
export interface SealedContent {
  sealed: Buffer;
  compressed: boolean;
}

/**
 * Compresses (when that shrinks it) and seals one content into a blob of the given type.
 *
 * @example
 * const { sealed } = await sealContent(pool, subkeys.encryption, 'data', chunk);
 */
export async function sealContent(
  codec: Codec,
  key: Uint8Array,
  type: BlobType,
  content: Uint8Array,
): Promise<SealedContent> {
  const { data, compressed } = await codec.compress(content);
  const sealed = compressed
    ? sealBlob(key, { type, compressed: true, length: content.length }, data)
    : sealBlob(key, { type, compressed: false }, data);
  return { sealed, compressed };
}

/**
 * Opens a blob of the expected type and returns its content, decompressed to exactly the
 * authenticated header length. Errors as {@link openBlob} and {@link decompressSync}.
 */
export async function openContent(
  codec: Codec,
  key: Uint8Array,
  sealed: Uint8Array,
  type: BlobType,
  options: OpenBlobOptions & Pick<DecompressOptions, 'maxBytes'> = {},
): Promise<{ header: BlobHeader; content: Buffer }> {
  const { header, plaintext } = openBlob(key, sealed, type, options);
  if (!header.compressed) return { header, content: plaintext };
  const what = options.what ?? `${type} blob`;
  const content = await codec.decompress(plaintext, header.length, {
    what,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
  });
  return { header, content };
}
