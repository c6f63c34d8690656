/**
 * Region maps of a repository's objects, for the corruption sweep (corruption.test.ts).
 *
 * Everything here is computed from the format (docs/repository-format.md) by reading the
 * clean repository directly — key file, master index, manifests, trees, content lists and
 * TOCs — never through `check`, so the sweep's expectations are independent of the code it
 * tests.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  BLOB_HEADER_BYTES,
  BLOB_NONCE_BYTES,
  BLOB_TAG_BYTES,
  PACK_TRAILER_BYTES,
  decodeContentList,
  decodeTree,
  decompressSync,
  deriveSubkeys,
  openBlob,
  openFsBackend,
  openKeyFile,
  readIndexFile,
  readPackToc,
  readSnapshot,
  type PackEntry,
  type SnapshotManifest,
} from '../../src/repo/index.js';

/** What a region of an object is, e.g. `pack/data-blob/body` or `key/wrapped`. */
export type RegionClass = string;

/** A set of byte positions of one object that play the same role. */
export interface Region {
  /** The object's path in the repository: `data/<id>`, `index/<id>`, `keys/<id>`, `config`… */
  readonly object: string;
  /** Absolute path of the object on disk. */
  readonly file: string;
  readonly cls: RegionClass;
  /** `[start, end)` byte ranges. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Blobs (`type:id`) whose bytes these are (pack blob regions only). */
  readonly blob?: string;
}

/** A seeded PRNG, uniform in [0, 1) (mulberry32). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** What the sweep knows about the clean repository. */
export interface RepoMap {
  readonly root: string;
  readonly regions: readonly Region[];
  /** Snapshot id → every blob (`type:id`) it needs: content lists, trees, chunks. */
  readonly closure: ReadonlyMap<string, ReadonlySet<string>>;
  /** Pack id → blobs (`type:id`) its TOC lists. */
  readonly packBlobs: ReadonlyMap<string, ReadonlySet<string>>;
  /** Index file name → blobs (`type:id`) it lists. */
  readonly indexBlobs: ReadonlyMap<string, ReadonlySet<string>>;
  readonly manifests: ReadonlyMap<string, SnapshotManifest>;
}

/** The path of a repository object on disk. */
export function objectFile(root: string, object: string): string {
  const [folder = '', name = ''] = object.split('/');
  if (object === 'config') return join(root, 'config');
  return folder === 'data' ? join(root, 'data', name.slice(0, 2), name) : join(root, object);
}

async function listNames(root: string, folder: string): Promise<string[]> {
  if (folder === 'data') {
    const out: string[] = [];
    for (const sub of await readdir(join(root, 'data'))) {
      for (const name of await readdir(join(root, 'data', sub))) out.push(name);
    }
    return out.sort();
  }
  return (await readdir(join(root, folder))).sort();
}

/** header / nonce / body / tag of a sealed blob at `offset`, `length` bytes long. */
function sealedRegions(
  object: string,
  file: string,
  prefix: string,
  offset: number,
  length: number,
  blob?: string,
): Region[] {
  const bodyStart = offset + BLOB_HEADER_BYTES + BLOB_NONCE_BYTES;
  const tagStart = offset + length - BLOB_TAG_BYTES;
  const parts: [string, number, number][] = [
    ['header', offset, offset + BLOB_HEADER_BYTES],
    ['nonce', offset + BLOB_HEADER_BYTES, bodyStart],
    ['body', bodyStart, tagStart],
    ['tag', tagStart, offset + length],
  ];
  return parts
    .filter(([, start, end]) => end > start)
    .map(([part, start, end]) => ({
      object,
      file,
      cls: `${prefix}/${part}`,
      ranges: [[start, end] as const],
      ...(blob === undefined ? {} : { blob }),
    }));
}

/**
 * Regions of a JSON object file written by `JSON.stringify(value, null, 2)`: the value of
 * each field named in `own` gets its own class, the values of the other fields `fields`,
 * and everything else (names, punctuation, whitespace) `syntax`.
 */
function jsonRegions(
  object: string,
  file: string,
  prefix: string,
  text: string,
  own: readonly string[],
): Region[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length !== text.length) throw new Error(`${object}: expected ASCII JSON`);
  const valueRanges = new Map<string, [number, number][]>();
  const covered = new Uint8Array(bytes.length);
  const pattern = /"(\w+)": ("(?:[^"\\]|\\.)*"|-?\d+)/g;
  for (const match of text.matchAll(pattern)) {
    const name = match[1] ?? '';
    const value = match[2] ?? '';
    const start = match.index + match[0].length - value.length;
    const cls = own.includes(name) ? name : 'fields';
    const list = valueRanges.get(cls) ?? [];
    list.push([start, start + value.length]);
    valueRanges.set(cls, list);
    covered.fill(1, start, start + value.length);
  }
  const syntax: [number, number][] = [];
  for (let at = 0; at < bytes.length;) {
    if (covered[at] === 1) {
      at++;
      continue;
    }
    const start = at;
    while (at < bytes.length && covered[at] !== 1) at++;
    syntax.push([start, at]);
  }
  return [
    ...[...valueRanges].map(([cls, ranges]) => ({ object, file, cls: `${prefix}/${cls}`, ranges })),
    { object, file, cls: `${prefix}/syntax`, ranges: syntax },
  ];
}

/**
 * Reads a clean repository (with `password`) and maps every object into regions, and every
 * snapshot to the blobs it needs.
 */
export async function mapRepository(root: string, password: string): Promise<RepoMap> {
  const backend = openFsBackend(root);
  try {
    // The master key, from the first key file the password opens.
    let master: Buffer | undefined;
    const regions: Region[] = [];
    for (const name of await listNames(root, 'keys')) {
      const file = join(root, 'keys', name);
      const text = await readFile(file, 'utf8');
      master ??= await openKeyFile(JSON.parse(text), password, { id: name }).catch(() => undefined);
      regions.push(...jsonRegions(`keys/${name}`, file, 'key', text, ['wrapped']));
    }
    if (master === undefined) throw new Error('the password opens no key file');
    const keys = deriveSubkeys(master);
    const key = keys.encryption;
    regions.push(
      ...jsonRegions(
        'config',
        join(root, 'config'),
        'config',
        await readFile(join(root, 'config'), 'utf8'),
        [],
      ),
    );

    // Index files: which blobs each lists, and where every blob is.
    const indexBlobs = new Map<string, Set<string>>();
    for (const name of await listNames(root, 'index')) {
      const blobs = new Set<string>();
      for (const pack of await readIndexFile(backend, key, name)) {
        for (const entry of pack.entries) blobs.add(`${entry.type}:${entry.id}`);
      }
      indexBlobs.set(name, blobs);
      const file = join(root, 'index', name);
      const size = (await readFile(file)).length;
      regions.push(...sealedRegions(`index/${name}`, file, 'index', 0, size));
    }

    // Manifests, then every tree and content list they reach.
    const manifests = new Map<string, SnapshotManifest>();
    for (const id of await listNames(root, 'snapshots')) {
      manifests.set(id, await readSnapshot(backend, key, id));
      const file = join(root, 'snapshots', id);
      const size = (await readFile(file)).length;
      regions.push(...sealedRegions(`snapshots/${id}`, file, 'manifest', 0, size));
    }

    // Packs: TOC entries give each blob's place; the plaintext of tree-type blobs tells a
    // content list (SSCL) from a directory tree.
    const packBlobs = new Map<string, Set<string>>();
    const plaintexts = new Map<string, Buffer>();
    const packRegions: { pack: string; file: string; size: number; toc: PackEntry[] }[] = [];
    for (const pack of await listNames(root, 'data')) {
      const file = objectFile(root, `data/${pack}`);
      const bytes = await readFile(file);
      const toc = await readPackToc(bytes, key);
      packBlobs.set(pack, new Set(toc.map((entry) => `${entry.type}:${entry.id}`)));
      for (const entry of toc) {
        if (entry.type !== 'tree') continue;
        const sealed = bytes.subarray(entry.offset, entry.offset + entry.length);
        const { header, plaintext } = openBlob(key, sealed, 'tree');
        plaintexts.set(
          entry.id,
          header.compressed ? decompressSync(plaintext, header.length) : plaintext,
        );
      }
      packRegions.push({ pack, file, size: bytes.length, toc });
    }
    const isList = (id: string) => plaintexts.get(id)?.subarray(0, 4).toString() === 'SSCL';
    for (const { pack, file, size, toc } of packRegions) {
      const object = `data/${pack}`;
      for (const entry of toc) {
        const kind = entry.type === 'data' ? 'data' : isList(entry.id) ? 'list' : 'tree';
        regions.push(
          ...sealedRegions(
            object,
            file,
            `pack/${kind}-blob`,
            entry.offset,
            entry.length,
            `${entry.type}:${entry.id}`,
          ),
        );
      }
      const last = toc.at(-1);
      const tocStart = last === undefined ? 0 : last.offset + last.length;
      regions.push(
        ...sealedRegions(object, file, 'pack/toc', tocStart, size - PACK_TRAILER_BYTES - tocStart),
        {
          object,
          file,
          cls: 'pack/trailer/length',
          ranges: [[size - PACK_TRAILER_BYTES, size - PACK_TRAILER_BYTES + 4]],
        },
        { object, file, cls: 'pack/trailer/magic', ranges: [[size - 8, size]] },
      );
    }

    const closure = new Map<string, Set<string>>();
    const listIds = (id: string) => decodeContentList(plaintexts.get(id) ?? Buffer.alloc(0), id);
    const walk = (treeId: string, into: Set<string>) => {
      into.add(`tree:${treeId}`);
      const tree = decodeTree(plaintexts.get(treeId) ?? Buffer.alloc(0), treeId);
      for (const entry of tree.entries) {
        if (entry.type === 'dir') walk(entry.subtree, into);
        if (entry.type !== 'file') continue;
        for (const chunk of entry.chunks ?? []) into.add(`data:${chunk}`);
        for (const list of entry.lists ?? []) {
          into.add(`tree:${list}`);
          for (const chunk of listIds(list)) into.add(`data:${chunk}`);
        }
      }
    };
    for (const [id, manifest] of manifests) {
      const blobs = new Set<string>();
      if (manifest.content.type === 'tree') walk(manifest.content.root, blobs);
      else {
        for (const list of manifest.content.lists) {
          blobs.add(`tree:${list}`);
          for (const chunk of listIds(list)) blobs.add(`data:${chunk}`);
        }
      }
      closure.set(id, blobs);
    }
    return { root, regions, closure, packBlobs, indexBlobs, manifests };
  } finally {
    await backend.close();
  }
}

/**
 * The snapshots a flip inside `region` must be reported as affecting, from the map alone:
 * a damaged blob affects the snapshots that need it; a damaged TOC or trailer every
 * snapshot needing a blob of that pack; a damaged index file every snapshot needing a blob
 * only it lists; a damaged manifest its own snapshot; key files and the config none.
 */
export function expectedAffected(map: RepoMap, region: Region): Set<string> {
  const needing = (blobs: ReadonlySet<string>) => {
    const out = new Set<string>();
    for (const [id, needs] of map.closure) {
      for (const blob of needs) {
        if (blobs.has(blob)) {
          out.add(id);
          break;
        }
      }
    }
    return out;
  };
  const [folder = '', name = ''] = region.object.split('/');
  if (region.blob !== undefined) return needing(new Set([region.blob]));
  if (folder === 'data') return needing(map.packBlobs.get(name) ?? new Set());
  if (folder === 'index') {
    const others = new Set<string>();
    for (const [other, blobs] of map.indexBlobs) {
      if (other !== name) for (const blob of blobs) others.add(blob);
    }
    const only = [...(map.indexBlobs.get(name) ?? [])].filter((blob) => !others.has(blob));
    return needing(new Set(only));
  }
  if (folder === 'snapshots') return new Set([name]);
  return new Set();
}

/** Every position of a region, in order. */
export function positions(region: Region): number[] {
  const out: number[] = [];
  for (const [start, end] of region.ranges) for (let at = start; at < end; at++) out.push(at);
  return out;
}

/**
 * Picks the byte positions to flip in a region: every position when it has at most `all`,
 * otherwise `sample` distinct positions drawn with `random`.
 */
export function pickPositions(
  region: Region,
  random: () => number,
  all: number,
  sample: number,
): number[] {
  const every = positions(region);
  if (every.length <= all) return every;
  const picked = new Set<number>();
  while (picked.size < Math.min(sample, every.length)) {
    picked.add(every[Math.floor(random() * every.length)] ?? 0);
  }
  return [...picked].sort((a, b) => a - b);
}

/** The object type folder of a region (`data`, `index`, `snapshots`, `keys`, `config`). */
export function folderOf(region: Region): string {
  return region.object.split('/')[0] ?? '';
}
