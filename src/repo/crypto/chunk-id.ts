import { createHmac } from 'node:crypto';

/** Bytes in a chunk-id key (HMAC-SHA-256). */
export const CHUNK_ID_KEY_BYTES = 32;

/**
 * The id of a chunk: HMAC-SHA-256 over its plaintext under the repository's chunk-id sub-key,
 * as 64 lowercase hex characters. Keyed so that equal chunks deduplicate inside a repository
 * while an observer without the key cannot confirm that a repository holds known content.
 *
 * @example
 * const id = chunkId(subkeys.chunkId, chunk); // 'a3f1…' (64 hex chars)
 */
export function chunkId(key: Uint8Array, data: Uint8Array): string {
  if (key.length !== CHUNK_ID_KEY_BYTES) {
    throw new Error(`chunkId: key must be ${CHUNK_ID_KEY_BYTES} bytes, got ${key.length}`);
  }
  return createHmac('sha256', key).update(data).digest('hex');
}
