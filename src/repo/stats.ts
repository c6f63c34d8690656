import { FileType, type Backend } from './backend/index.js';
import { listSnapshots, loadMasterIndex } from './format/index.js';

/** Sizes of a repository, as `repo stats` shows them. */
export interface RepositoryStats {
  /** Snapshots in the repository. */
  readonly snapshots: number;
  /** Sum of the sizes of every snapshot: what restoring them all would produce. */
  readonly logicalBytes: number;
  /** Sum of the plaintext lengths of the distinct data chunks (after dedup, before compression). */
  readonly uniqueBytes: number;
  /** Bytes the repository occupies: packs, index files and snapshot manifests. */
  readonly storedBytes: number;
  /** logicalBytes / uniqueBytes: how much dedup saves (1 when there is nothing stored). */
  readonly dedupRatio: number;
  /**
   * uniqueBytes / stored bytes of the data chunks (sealed: compressed, plus 36 bytes of header,
   * nonce and tag each): how much compression saves (1 when there is nothing stored).
   */
  readonly compressionRatio: number;
  /** Distinct data chunks. */
  readonly chunks: number;
  /** Packs under `data/`. */
  readonly packs: number;
}

/**
 * Computes a repository's sizes from its snapshots, its index and a listing of its objects.
 * Reads every manifest and index file; reads no pack.
 */
export async function repositoryStats(backend: Backend, key: Uint8Array): Promise<RepositoryStats> {
  const snapshots = await listSnapshots(backend, key);
  const logicalBytes = snapshots.reduce(
    (sum, { manifest }) =>
      sum +
      (manifest.content.type === 'stream' ? manifest.content.size : manifest.sizes.logicalBytes),
    0,
  );
  const index = await loadMasterIndex(backend, key);
  let uniqueBytes = 0;
  let sealedDataBytes = 0;
  let chunks = 0;
  for (const entry of index.entries()) {
    if (entry.type !== 'data') continue;
    chunks++;
    uniqueBytes += entry.plaintextLength;
    sealedDataBytes += entry.length;
  }
  let storedBytes = 0;
  let packs = 0;
  for (const type of [FileType.data, FileType.index, FileType.snapshots]) {
    for await (const { size } of backend.list(type)) {
      storedBytes += size;
      if (type === FileType.data) packs++;
    }
  }
  return {
    snapshots: snapshots.length,
    logicalBytes,
    uniqueBytes,
    storedBytes,
    dedupRatio: uniqueBytes === 0 ? 1 : logicalBytes / uniqueBytes,
    compressionRatio: sealedDataBytes === 0 ? 1 : uniqueBytes / sealedDataBytes,
    chunks,
    packs,
  };
}
