import { z } from 'zod';

import { ShipError, failpoint } from '../../core/index.js';
import { FileType, type Backend } from '../backend/index.js';
import { compressSync, decompressSync } from '../compress/index.js';
import { openBlob, repoCorrupt, repoUnsupportedVersion, sealBlob } from '../crypto/index.js';

import { ID_BYTES, isHexId, readId, sha256Hex, writeId } from './ids.js';
import { putIfAbsent } from './index-file.js';

/** The snapshot manifest version this build writes and reads. */
export const SNAPSHOT_VERSION = 1;
/** Most chunk ids one content list holds (256 KiB of ids). */
export const MAX_CONTENT_LIST_IDS = 8192;
/** ASCII `SSCL`: first bytes of a content-list blob's plaintext. */
export const CONTENT_LIST_MAGIC = Buffer.from('SSCL', 'ascii');
/** Content-list header: magic (4), version (1), reserved 0 (3). */
export const CONTENT_LIST_HEADER_BYTES = 8;
/** Largest manifest plaintext a reader accepts (manifests are a few KiB). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

const hexId = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const byteCount = z.number().int().nonnegative();

/** Schema of a snapshot manifest (the plaintext of a `snapshot` blob, JSON). */
export const snapshotManifestSchema = z.strictObject({
  version: z.literal(SNAPSHOT_VERSION),
  /** Random 64 hex, chosen before sealing (the object's name is the hash of the sealed bytes). */
  id: hexId,
  time: z.iso.datetime({ offset: true }),
  host: z.string().max(1024),
  user: z.string().max(1024),
  source: z.strictObject({
    type: z.enum(['datastore', 'paths', 'stream']),
    name: z.string().max(1024).optional(),
    kind: z.string().max(256).optional(),
    paths: z.array(z.string().max(4096)).max(10_000).optional(),
  }),
  consistentPoint: z
    .strictObject({
      kind: z.string().max(256),
      value: z.string().max(4096),
      sourceTime: z.iso.datetime({ offset: true }).optional(),
    })
    .optional(),
  sizes: z.strictObject({
    logicalBytes: byteCount,
    newBytes: byteCount,
    storedBytes: byteCount,
    chunks: byteCount,
    newChunks: byteCount,
  }),
  toolVersions: z.record(z.string().max(256), z.string().max(1024)),
  fingerprints: z.record(z.string().max(256), z.unknown()).optional(),
  tags: z.array(z.string().min(1).max(256)).max(1000),
  content: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('stream'), size: byteCount, lists: z.array(hexId) }),
    z.strictObject({ type: z.literal('tree'), root: hexId }),
  ]),
});

/** A snapshot manifest. */
export type SnapshotManifest = z.infer<typeof snapshotManifestSchema>;
/** What a snapshot says about its source. */
export type SnapshotSource = SnapshotManifest['source'];
/** A source's consistent point (an LSN, a binlog position, the source's clock). */
export type ConsistentPoint = NonNullable<SnapshotManifest['consistentPoint']>;

/** A stored snapshot: its name under `snapshots/` and its manifest. */
export interface StoredSnapshot {
  /** SHA-256 hex of the sealed manifest: the name under `snapshots/`. */
  readonly id: string;
  readonly manifest: SnapshotManifest;
}

/** Seals a manifest (zstd when it shrinks) and stores it create-only; returns its id. */
export async function writeSnapshot(
  backend: Backend,
  key: Uint8Array,
  manifest: SnapshotManifest,
): Promise<string> {
  const plaintext = Buffer.from(JSON.stringify(snapshotManifestSchema.parse(manifest)), 'utf8');
  const packed = compressSync(plaintext);
  const sealed = packed.compressed
    ? sealBlob(key, { type: 'snapshot', compressed: true, length: plaintext.length }, packed.data)
    : sealBlob(key, { type: 'snapshot', compressed: false }, plaintext);
  const id = sha256Hex(sealed);
  await putIfAbsent(backend, FileType.snapshots, id, sealed);
  failpoint('snapshot.written');
  return id;
}

/** Reads, authenticates and validates one snapshot. `SHIP_REPO_CORRUPT` names it on damage. */
export async function readSnapshot(
  backend: Backend,
  key: Uint8Array,
  id: string,
): Promise<SnapshotManifest> {
  const what = `snapshot ${id}`;
  const sealed = await backend.get(FileType.snapshots, id);
  if (sha256Hex(sealed) !== id) throw repoCorrupt(what, 'content does not match its name');
  const { header, plaintext } = openBlob(key, sealed, 'snapshot', { what });
  const json = header.compressed
    ? decompressSync(plaintext, header.length, { what, maxBytes: MAX_MANIFEST_BYTES })
    : plaintext;
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw repoCorrupt(what, 'manifest is not valid JSON', { cause: error });
  }
  if (typeof value === 'object' && value !== null && 'version' in value) {
    const version: unknown = value.version;
    if (typeof version === 'number' && version !== SNAPSHOT_VERSION) {
      throw repoUnsupportedVersion(what, version, SNAPSHOT_VERSION);
    }
  }
  const parsed = snapshotManifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw repoCorrupt(
      what,
      `malformed manifest at \`${issue?.path.join('.') ?? ''}\`: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Filters for {@link listSnapshots}. */
export interface SnapshotFilter {
  /** Only snapshots whose `source.name` equals this. */
  source?: string;
  /** Only snapshots carrying this tag. */
  tag?: string;
}

/**
 * Every snapshot (reading only `snapshots/` with the key), oldest first (by `time`, then id).
 * Objects under `snapshots/` whose names are not 64-hex ids are ignored.
 */
export async function listSnapshots(
  backend: Backend,
  key: Uint8Array,
  filter: SnapshotFilter = {},
): Promise<StoredSnapshot[]> {
  const found: StoredSnapshot[] = [];
  for await (const { name } of backend.list(FileType.snapshots)) {
    if (!isHexId(name)) continue;
    const manifest = await readSnapshot(backend, key, name);
    if (filter.source !== undefined && manifest.source.name !== filter.source) continue;
    if (filter.tag !== undefined && !manifest.tags.includes(filter.tag)) continue;
    found.push({ id: name, manifest });
  }
  return found.sort(
    (a, b) => Date.parse(a.manifest.time) - Date.parse(b.manifest.time) || a.id.localeCompare(b.id),
  );
}

/**
 * Resolves `latest` (the newest snapshot matching `filter`) or a unique id prefix (≥ 4 hex
 * characters) to a stored snapshot. Throws `SHIP_REPO_SNAPSHOT_NOT_FOUND` or
 * `SHIP_REPO_SNAPSHOT_AMBIGUOUS` (exit 2).
 */
export async function resolveSnapshotRef(
  backend: Backend,
  key: Uint8Array,
  ref: string,
  filter: SnapshotFilter = {},
): Promise<StoredSnapshot> {
  if (ref === 'latest') {
    const all = await listSnapshots(backend, key, filter);
    const newest = all.at(-1);
    if (newest === undefined) throw snapshotNotFound(backend, ref);
    return newest;
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) {
    throw ShipError.usage(
      'SHIP_REPO_BAD_SNAPSHOT_REF',
      `"${ref}" is not a snapshot reference: expected \`latest\` or at least 4 lowercase hex characters of a snapshot id`,
      { hint: 'list snapshots with `shipshape repo snapshots`' },
    );
  }
  const matches: string[] = [];
  for await (const { name } of backend.list(FileType.snapshots)) {
    if (isHexId(name) && name.startsWith(ref)) matches.push(name);
  }
  const [only, ...more] = matches;
  if (only === undefined) throw snapshotNotFound(backend, ref);
  if (more.length > 0) {
    throw ShipError.usage(
      'SHIP_REPO_SNAPSHOT_AMBIGUOUS',
      `snapshot prefix ${ref} matches ${matches.length} snapshots`,
      { details: { matches: matches.slice(0, 10) }, hint: 'give more characters of the id' },
    );
  }
  return { id: only, manifest: await readSnapshot(backend, key, only) };
}

function snapshotNotFound(backend: Backend, ref: string): ShipError {
  return ShipError.usage(
    'SHIP_REPO_SNAPSHOT_NOT_FOUND',
    ref === 'latest'
      ? `${backend.location} has no snapshot to restore`
      : `no snapshot in ${backend.location} has an id starting with ${ref}`,
    { details: { ref }, hint: 'list snapshots with `shipshape repo snapshots`' },
  );
}

/**
 * Encodes a content list (the plaintext of a `tree` blob): `SSCL || version 1 || 3 zero
 * bytes || n × 32-byte chunk ids`, in stream order.
 */
export function encodeContentList(ids: readonly string[]): Buffer {
  if (ids.length > MAX_CONTENT_LIST_IDS) {
    throw new Error(`a content list holds at most ${MAX_CONTENT_LIST_IDS} ids`);
  }
  const out = Buffer.alloc(CONTENT_LIST_HEADER_BYTES + ids.length * ID_BYTES);
  CONTENT_LIST_MAGIC.copy(out, 0);
  out[4] = 1;
  ids.forEach((id, i) => {
    writeId(out, id, CONTENT_LIST_HEADER_BYTES + i * ID_BYTES);
  });
  return out;
}

/** Decodes a content list's (authenticated) plaintext; `SHIP_REPO_CORRUPT` on a bad shape. */
export function decodeContentList(plaintext: Buffer, what: string): string[] {
  const body = plaintext.length - CONTENT_LIST_HEADER_BYTES;
  if (
    body < 0 ||
    !plaintext.subarray(0, 4).equals(CONTENT_LIST_MAGIC) ||
    plaintext[4] !== 1 ||
    body % ID_BYTES !== 0 ||
    body / ID_BYTES > MAX_CONTENT_LIST_IDS
  ) {
    throw repoCorrupt(what, 'not a version 1 content list');
  }
  const ids: string[] = [];
  for (let at = CONTENT_LIST_HEADER_BYTES; at < plaintext.length; at += ID_BYTES) {
    ids.push(readId(plaintext, at));
  }
  return ids;
}
