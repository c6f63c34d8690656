import { createHash } from 'node:crypto';

/** Bytes of a blob, pack, index or snapshot id in binary form. */
export const ID_BYTES = 32;

const HEX_ID = /^[0-9a-f]{64}$/;

/** True for a 64-character lowercase hex id. */
export function isHexId(value: string): boolean {
  return HEX_ID.test(value);
}

/** Lowercase hex SHA-256 of the given parts: the name of packs, index files and snapshots. */
export function sha256Hex(parts: Uint8Array | readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  const list: readonly Uint8Array[] = parts instanceof Uint8Array ? [parts] : parts;
  for (const part of list) hash.update(part);
  return hash.digest('hex');
}

/** Writes a 64-hex id as 32 raw bytes at `offset`. Throws a plain Error on a malformed id. */
export function writeId(target: Buffer, id: string, offset: number): void {
  if (!isHexId(id)) throw new Error(`not a 64-character lowercase hex id: ${JSON.stringify(id)}`);
  target.write(id, offset, ID_BYTES, 'hex');
}

/** Reads 32 raw bytes at `offset` as a lowercase hex id. */
export function readId(source: Buffer, offset: number): string {
  return source.toString('hex', offset, offset + ID_BYTES);
}
