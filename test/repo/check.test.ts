import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import {
  CheckProblemCode,
  Repository,
  openFsBackend,
  type CheckReport,
  type InitOptions,
} from '../../src/repo/index.js';

const PASSWORD = 'correct horse battery staple';
const PASSWORD_2 = 'a second password for the ops key';
const PASSWORD_3 = 'a third password, for the spare key';
/** Cheap scrypt and tiny chunks and packs: several packs per snapshot, in milliseconds. */
const FAST: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  packTargetBytes: 64 * 1024,
  workers: 2,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Deterministic bytes: random-looking, or text that zstd compresses. */
function bytes(seed: string, length: number, text = false): Buffer {
  if (text) {
    let out = '';
    for (let row = 0; out.length < length; row++) out += `${seed} row ${row} ${row % 97}\n`;
    return Buffer.from(out.slice(0, length));
  }
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < length; i++) {
    parts.push(createHash('sha256').update(`${seed}:${i}`).digest());
  }
  return Buffer.concat(parts).subarray(0, length);
}

async function* pieces(data: Buffer, piece = 10_000): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += piece) {
    await Promise.resolve();
    yield data.subarray(at, at + piece);
  }
}

async function names(root: string, folder: string): Promise<string[]> {
  const out: string[] = [];
  if (folder === 'data') {
    for (const sub of await readdir(join(root, 'data'))) {
      for (const name of await readdir(join(root, 'data', sub))) out.push(name);
    }
    return out.sort();
  }
  return (await readdir(join(root, folder))).sort();
}

function objectPath(root: string, folder: string, name: string): string {
  return folder === 'data' ? join(root, 'data', name.slice(0, 2), name) : join(root, folder, name);
}

/** Flips one bit of one byte of a repository object (negative offsets count from the end). */
async function flip(root: string, folder: string, name: string, offset: number): Promise<void> {
  const path = objectPath(root, folder, name);
  const data = await readFile(path);
  const at = offset < 0 ? data.length + offset : offset;
  data[at] = (data[at] ?? 0) ^ 0x01;
  await writeFile(path, data);
}

/**
 * A repository with three snapshots: A (random and text, several packs), C (the same bytes
 * as A: it writes no pack and shares all of A's chunks) and B (other random bytes, its own
 * packs). Returns which packs and index files each backup wrote.
 */
async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-check-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'repo');
  const repo = await Repository.init(openFsBackend(root), PASSWORD, FAST);
  const secondKey = await repo.addKey(PASSWORD_2, 'ops');
  const dataA = Buffer.concat([bytes('a', 150_000), bytes('a', 100_000, true)]);
  const a = await repo.backupStream(pieces(dataA), { source: { type: 'stream', name: 'a' } });
  const packsA = await names(root, 'data');
  const indexA = await names(root, 'index');
  const c = await repo.backupStream(pieces(dataA), { source: { type: 'stream', name: 'c' } });
  const b = await repo.backupStream(pieces(bytes('b', 120_000)), {
    source: { type: 'stream', name: 'b' },
  });
  const packsB = (await names(root, 'data')).filter((p) => !packsA.includes(p));
  await repo.close();
  return {
    root,
    firstKey: repo.keyId,
    secondKey,
    packsA,
    packsB,
    indexA: indexA[0] ?? '',
    a: a.snapshotId,
    b: b.snapshotId,
    c: c.snapshotId,
  };
}

async function check(
  root: string,
  options: Parameters<Repository['check']>[0] = {},
  password = PASSWORD,
): Promise<CheckReport> {
  const repo = await Repository.open(openFsBackend(root), password, { workers: 2 });
  try {
    return await repo.check(options);
  } finally {
    await repo.close();
  }
}

const damagedIds = (report: CheckReport) => report.snapshots.damaged.map((s) => s.id).sort();
const objects = (report: CheckReport) => [...new Set(report.problems.map((p) => p.object))].sort();
const codes = (report: CheckReport) => [...new Set(report.problems.map((p) => p.code))].sort();

describe('repo check', () => {
  it('finds nothing wrong in a clean repository, structure-only and reading all data', async () => {
    const f = await fixture();
    expect(f.packsA.length).toBeGreaterThan(1);
    expect(f.packsB.length).toBeGreaterThan(0);

    const structure = await check(f.root);
    expect(structure).toMatchObject({
      ok: true,
      mode: 'structure',
      problems: [],
      snapshots: { total: 3, damaged: [] },
      packs: { read: 0, unindexed: [] },
      blobs: { read: 0 },
    });
    expect(structure.packs.total).toBe(f.packsA.length + f.packsB.length);

    const phases = new Set<string>();
    const full = await check(f.root, {
      readData: true,
      onProgress: (p) => phases.add(p.phase),
    });
    expect(full).toMatchObject({ ok: true, mode: 'read-data', problems: [] });
    expect(full.packs.read).toBe(full.packs.total);
    expect(full.blobs.read).toBe(full.blobs.total);
    expect([...phases].sort()).toEqual(['index', 'keys', 'packs', 'snapshots']);
  });

  it('names a pack whose blob body is damaged and the snapshots using it (only with --read-data)', async () => {
    const f = await fixture();
    const pack = f.packsA[0] ?? '';
    // Inside the first blob's ciphertext (after its 8-byte header and 12-byte nonce).
    await flip(f.root, 'data', pack, 30);

    // Limitation: a structure check reads no data blob, so it cannot see this.
    expect((await check(f.root)).ok).toBe(true);

    const report = await check(f.root, { readData: true });
    expect(report.ok).toBe(false);
    expect(codes(report)).toEqual([CheckProblemCode.blobDamaged]);
    expect(objects(report)).toEqual([`data/${pack}`]);
    expect(report.problems[0]?.message).toMatch(/authentication failed/);
    expect(damagedIds(report)).toEqual([f.a, f.c].sort());
    expect(report.snapshots.damaged[0]?.reasons.join('\n')).toMatch(/damaged in pack/);
  });

  it('names a pack whose table of contents is damaged, structure-only and with --read-data', async () => {
    const f = await fixture();
    const pack = f.packsB[0] ?? '';
    const data = await readFile(objectPath(f.root, 'data', pack));
    const tocLength = data.readUInt32BE(data.length - 12);
    await flip(f.root, 'data', pack, data.length - 12 - tocLength + 30);

    for (const report of [await check(f.root), await check(f.root, { readData: true })]) {
      expect(report.ok).toBe(false);
      expect(codes(report)).toEqual([CheckProblemCode.packUnreadable]);
      expect(objects(report)).toEqual([`data/${pack}`]);
      expect(report.problems[0]?.message).toMatch(/table of contents/);
      expect(damagedIds(report)).toEqual([f.b]);
    }
    // With --read-data the blobs are still checked where the index places them: all intact.
    const full = await check(f.root, { readData: true });
    expect(full.blobs.read).toBe(full.blobs.total);
  });

  it('names a pack whose trailer is damaged, structure-only and with --read-data', async () => {
    const f = await fixture();
    const pack = f.packsA.at(-1) ?? '';
    await flip(f.root, 'data', pack, -3); // in the SHIPPACK magic
    for (const report of [await check(f.root), await check(f.root, { readData: true })]) {
      expect(report.ok).toBe(false);
      expect(objects(report)).toEqual([`data/${pack}`]);
      expect(report.problems[0]?.message).toMatch(/SHIPPACK/);
      expect(damagedIds(report)).toEqual([f.a, f.c].sort());
    }
  });

  it('names a damaged index file, the snapshots whose chunks it indexed, and the orphaned packs', async () => {
    const f = await fixture();
    await flip(f.root, 'index', f.indexA, 40);
    for (const report of [await check(f.root), await check(f.root, { readData: true })]) {
      expect(report.ok).toBe(false);
      expect(codes(report)).toEqual(
        [CheckProblemCode.indexUnreadable, CheckProblemCode.blobNotIndexed].sort(),
      );
      expect(objects(report)).toEqual(
        [`index/${f.indexA}`, `snapshots/${f.a}`, `snapshots/${f.c}`].sort(),
      );
      expect(damagedIds(report)).toEqual([f.a, f.c].sort());
      expect(report.packs.unindexed).toEqual(f.packsA);
    }
  });

  it('names a damaged snapshot manifest, structure-only', async () => {
    const f = await fixture();
    await flip(f.root, 'snapshots', f.b, 50);
    const report = await check(f.root);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({
        code: CheckProblemCode.snapshotUnreadable,
        object: `snapshots/${f.b}`,
      }),
    ]);
    expect(damagedIds(report)).toEqual([f.b]);
  });

  it('names damaged key files; the repository still opens with an intact key', async () => {
    const f = await fixture();
    const opened = await Repository.open(openFsBackend(f.root), PASSWORD, FAST);
    const thirdKey = await opened.addKey(PASSWORD_3, 'spare');
    await opened.close();
    // The first key: its JSON breaks ('{' → 'z').
    await flip(f.root, 'keys', f.firstKey, 0);
    // The second key: one letter of its salt changes case. Still base64 of the right length,
    // so the schema accepts it; only the key id (a hash of every field but `wrapped`) shows it.
    const path = objectPath(f.root, 'keys', f.secondKey);
    const text = await readFile(path, 'utf8');
    const start = text.indexOf('"salt": "') + 9;
    const at = start + text.slice(start).search(/[A-Za-z]/);
    const damagedKey = Buffer.from(text);
    damagedKey[at] = (damagedKey[at] ?? 0) ^ 0x20;
    await writeFile(path, damagedKey);

    const report = await check(f.root, { readData: true }, PASSWORD_3);
    expect(report.ok).toBe(false);
    expect(codes(report)).toEqual([CheckProblemCode.keyUnreadable]);
    expect(objects(report)).toEqual([`keys/${f.firstKey}`, `keys/${f.secondKey}`].sort());
    expect(objects(report)).not.toContain(`keys/${thirdKey}`);
    expect(report.problems.find((p) => p.object === `keys/${f.secondKey}`)?.message).toMatch(
      /does not match its name/,
    );
    expect(report.snapshots.damaged).toEqual([]);
  });

  it('names a deleted pack and the snapshots that lose chunks, structure-only', async () => {
    const f = await fixture();
    const pack = f.packsB[0] ?? '';
    await rm(objectPath(f.root, 'data', pack));
    const report = await check(f.root);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ code: CheckProblemCode.packMissing, object: `data/${pack}` }),
    ]);
    expect(damagedIds(report)).toEqual([f.b]);
    expect(report.snapshots.damaged[0]?.reasons.join('\n')).toMatch(/which is missing/);
  });

  it('names a truncated pack', async () => {
    const f = await fixture();
    const pack = f.packsA[0] ?? '';
    const path = objectPath(f.root, 'data', pack);
    const { size } = await stat(path);
    await writeFile(path, (await readFile(path)).subarray(0, size - 100));
    const report = await check(f.root);
    expect(codes(report)).toEqual([CheckProblemCode.packSize]);
    expect(damagedIds(report)).toEqual([f.a, f.c].sort());
  });

  it('--read-data-subset 50 reads about half of the packs, the same ones for the same seed', async () => {
    const f = await fixture();
    const total = f.packsA.length + f.packsB.length;
    const first = await check(f.root, { readDataSubset: 50, seed: 7 });
    expect(first).toMatchObject({ ok: true, mode: 'read-data-subset' });
    expect(first.packs.read).toBe(Math.round(total / 2));
    // Which packs: damage every pack's first blob, then see that the same seed finds the same.
    for (const pack of [...f.packsA, ...f.packsB]) await flip(f.root, 'data', pack, 30);
    const again = await check(f.root, { readDataSubset: 50, seed: 7 });
    const againToo = await check(f.root, { readDataSubset: 50, seed: 7 });
    expect(objects(again)).toHaveLength(Math.round(total / 2));
    expect(objects(againToo)).toEqual(objects(again));
    await expect(check(f.root, { readDataSubset: 0 })).rejects.toThrow(/percentage/);
  });

  it('walks directory-tree snapshots: names the damaged snapshot and the file path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipshape-check-tree-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const root = join(dir, 'repo');
    for (const [name, seed] of [
      ['one', 'x'],
      ['two', 'y'],
    ] as const) {
      await mkdir(join(dir, name, 'sub'), { recursive: true });
      await writeFile(join(dir, name, 'small.txt'), bytes(seed, 3000, true));
      // Over 64 chunks: stored through content lists.
      await writeFile(join(dir, name, 'sub', 'big.bin'), bytes(seed, 400_000));
    }
    const repo = await Repository.init(openFsBackend(root), PASSWORD, FAST);
    const one = await repo.backupTree([join(dir, 'one')], { source: { type: 'paths' } });
    const packsOne = await names(root, 'data');
    const two = await repo.backupTree([join(dir, 'two')], { source: { type: 'paths' } });
    await repo.close();
    expect((await check(root, { readData: true })).ok).toBe(true);

    const packsTwo = (await names(root, 'data')).filter((p) => !packsOne.includes(p));
    await rm(objectPath(root, 'data', packsTwo[0] ?? ''));
    const report = await check(root);
    expect(codes(report)).toEqual([CheckProblemCode.packMissing]);
    expect(damagedIds(report)).toEqual([two.snapshotId]);
    expect(damagedIds(report)).not.toContain(one.snapshotId);
    const reasons = report.snapshots.damaged[0]?.reasons ?? [];
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason).toMatch(/^\/.*which is missing/);
  });

  it('refuses to run with a wrong password (it is no damage report)', async () => {
    const f = await fixture();
    await expect(check(f.root, {}, 'not the password')).rejects.toMatchObject({
      code: 'SHIP_REPO_WRONG_KEY',
    });
  });

  it('stats: counts snapshots, logical, unique and stored bytes', async () => {
    const f = await fixture();
    const repo = await Repository.open(openFsBackend(f.root), PASSWORD, FAST);
    cleanups.push(() => repo.close());
    const stats = await repo.stats();
    expect(stats.snapshots).toBe(3);
    expect(stats.logicalBytes).toBe(250_000 * 2 + 120_000);
    expect(stats.uniqueBytes).toBe(250_000 + 120_000);
    expect(stats.dedupRatio).toBeCloseTo(620_000 / 370_000, 6);
    // The text compresses; the random bytes do not.
    expect(stats.compressionRatio).toBeGreaterThan(1);
    expect(stats.packs).toBe(f.packsA.length + f.packsB.length);
    expect(stats.chunks).toBeGreaterThan(10);
    let onDisk = 0;
    for (const folder of ['data', 'index', 'snapshots']) {
      for (const name of await names(f.root, folder)) {
        onDisk += (await stat(objectPath(f.root, folder, name))).size;
      }
    }
    expect(stats.storedBytes).toBe(onDisk);
  });
});
