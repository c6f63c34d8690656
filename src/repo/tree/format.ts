import { z } from 'zod';

import { repoCorrupt, repoUnsupportedVersion } from '../crypto/index.js';

/** The tree blob version this build writes and reads. */
export const TREE_VERSION = 1;
/** A file with at most this many chunks lists them inline; longer files use content lists. */
export const MAX_INLINE_CHUNKS = 64;
/** Largest tree plaintext a reader accepts (a directory of ≈ 1 million entries). */
export const MAX_TREE_BYTES = 512 * 1024 * 1024;

/** The kinds of entry a tree holds. */
export const TreeEntryType = {
  file: 'file',
  dir: 'dir',
  symlink: 'symlink',
} as const;
/** One of {@link TreeEntryType}. */
export type TreeEntryType = (typeof TreeEntryType)[keyof typeof TreeEntryType];

const hexId = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const common = {
  name: z.string().refine(isValidEntryName, 'not a valid entry name'),
  /** Permission bits (incl. setuid, setgid, sticky): `st_mode & 0o7777`. */
  mode: z.number().int().min(0).max(0o7777),
  /** Modification time, nanoseconds since the epoch, as a decimal string (exceeds 2^53). */
  mtimeNs: z.string().regex(/^-?[0-9]{1,25}$/),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
};

/** Schema of one tree entry. */
export const treeEntrySchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...common,
    type: z.literal('file'),
    /** Chunk ids in file order (files of at most {@link MAX_INLINE_CHUNKS} chunks). */
    chunks: z.array(hexId).max(MAX_INLINE_CHUNKS).optional(),
    /** Content-list blob ids in order (longer files), as for streams. */
    lists: z.array(hexId).optional(),
  }),
  z.strictObject({ ...common, type: z.literal('dir'), subtree: hexId }),
  z.strictObject({
    ...common,
    type: z.literal('symlink'),
    target: z
      .string()
      .min(1)
      .refine((t) => !t.includes('\0'), 'contains NUL'),
  }),
]);

/** One entry of a tree. */
export type TreeEntry = z.infer<typeof treeEntrySchema>;
/** A file entry. */
export type FileEntry = Extract<TreeEntry, { type: 'file' }>;

/** Schema of a tree blob's plaintext (JSON). */
export const treeSchema = z.strictObject({
  version: z.literal(TREE_VERSION),
  entries: z.array(treeEntrySchema),
});

/** A directory listing. */
export type Tree = z.infer<typeof treeSchema>;

/**
 * A name a tree may hold: non-empty, not `.` or `..`, without `/` or NUL. Anything else could
 * make a restore write outside its target.
 */
export function isValidEntryName(name: string): boolean {
  return (
    name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
  );
}

/** Orders names by their UTF-8 bytes (the order entries are stored in). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Encodes a tree: sorts entries by name bytes (callers pass unique names), writes each
 * entry's keys in the documented order and returns the JSON plaintext, UTF-8.
 */
export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => compareNames(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1]?.name === sorted[i]?.name) {
      throw new Error(`a tree holds two entries named ${JSON.stringify(sorted[i]?.name)}`);
    }
  }
  return Buffer.from(
    JSON.stringify({ version: TREE_VERSION, entries: sorted.map(canonical) }),
    'utf8',
  );
}

/** Fixed key order, so equal directories always encode to the same bytes (and id). */
function canonical(entry: TreeEntry): TreeEntry {
  const { name, type, mode, mtimeNs, uid, gid, size } = entry;
  const head = { name, type, mode, mtimeNs, uid, gid, size };
  switch (entry.type) {
    case 'file':
      return entry.chunks === undefined
        ? { ...head, type: 'file', lists: entry.lists ?? [] }
        : { ...head, type: 'file', chunks: entry.chunks };
    case 'dir':
      return { ...head, type: 'dir', subtree: entry.subtree };
    case 'symlink':
      return { ...head, type: 'symlink', target: entry.target };
  }
}

/**
 * Decodes an authenticated tree plaintext. `SHIP_REPO_CORRUPT` (naming `what`) on bad JSON, a
 * bad entry, unsorted or duplicate names, a file with both or neither of `chunks`/`lists`;
 * `SHIP_REPO_UNSUPPORTED_VERSION` on another version.
 */
export function decodeTree(plaintext: Buffer, what: string): Tree {
  let value: unknown;
  try {
    value = JSON.parse(plaintext.toString('utf8'));
  } catch (error) {
    throw repoCorrupt(what, 'is not a JSON tree', { cause: error });
  }
  if (typeof value === 'object' && value !== null && 'version' in value) {
    const version: unknown = value.version;
    if (typeof version === 'number' && version !== TREE_VERSION) {
      throw repoUnsupportedVersion(what, version, TREE_VERSION);
    }
  }
  const parsed = treeSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw repoCorrupt(
      what,
      `malformed tree at \`${issue?.path.join('.') ?? ''}\`: ${issue?.message ?? 'invalid'}`,
    );
  }
  const { entries } = parsed.data;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as TreeEntry;
    const previous = entries[i - 1];
    if (previous !== undefined && compareNames(previous.name, entry.name) >= 0) {
      throw repoCorrupt(what, `entries are not in strictly increasing name order at ${i}`);
    }
    if (entry.type === 'file' && (entry.chunks === undefined) === (entry.lists === undefined)) {
      throw repoCorrupt(what, `file entry ${i} must have exactly one of chunks and lists`);
    }
  }
  return parsed.data;
}
