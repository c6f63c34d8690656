/**
 * Corruption sweep: seeded single-byte flips across every region of every kind of repository
 * object (pack blobs — header, nonce, body, tag — of data chunks, content lists and trees;
 * pack TOCs and trailers; index files; snapshot manifests; key files; the config). For each
 * flip: `check --read-data` must report the damaged object and exactly the snapshots that
 * depend on it (computed independently in corruption-map.ts), and restoring each affected
 * snapshot must fail with exit 11 having written only a prefix of the true bytes.
 *
 * `npm test` runs a reduced seeded sample; `npm run test:corruption`
 * (SHIPSHAPE_CORRUPTION_FULL=1) the full sweep. SHIPSHAPE_CORRUPTION_SEED picks another seed.
 */
import { createHash } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ExitCode, isShipError } from '../../src/core/index.js';
import {
  Repository,
  openFsBackend,
  type CheckReport,
  type InitOptions,
} from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';
import {
  expectedAffected,
  folderOf,
  mapRepository,
  pickPositions,
  prng,
  type Region,
  type RepoMap,
} from './corruption-map.js';

const FULL = process.env.SHIPSHAPE_CORRUPTION_FULL === '1';
const SEED = Number(process.env.SHIPSHAPE_CORRUPTION_SEED ?? '20261122');
/** Regions picked per class, positions flipped per region (all when it has at most `all`). */
const PLAN = FULL
  ? { instances: 8, all: 16, sample: 24, keySample: 64 }
  : { instances: 1, all: 0, sample: 3, keySample: 4 };

const PASSWORD = 'correct horse battery staple';
const PASSWORD_2 = 'a second password for the ops key';
const OPTIONS: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 256, avgSize: 1024, maxSize: 4096 },
  packTargetBytes: 16 * 1024,
  workers: 1,
};

function randomBytes(seed: string, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < length; i++) {
    parts.push(createHash('sha256').update(`${seed}:${i}`).digest());
  }
  return Buffer.concat(parts).subarray(0, length);
}

function text(seed: string, length: number): Buffer {
  let out = '';
  for (let row = 0; out.length < length; row++) out += `${seed} row ${row} ${row % 97}\n`;
  return Buffer.from(out.slice(0, length));
}

// eslint-disable-next-line @typescript-eslint/require-await
async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

/** A snapshot and what restoring it must give. */
type Truth = { kind: 'stream'; data: Buffer } | { kind: 'tree'; source: string };

/** Collects what a restore writes, to compare it byte for byte. */
class Collect extends Writable {
  readonly parts: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.parts.push(chunk);
    done();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

let dir: string;
let root: string;
let map: RepoMap;
let firstKey: string;
const truths = new Map<string, Truth>();

/**
 * Three stream snapshots (A; C = the same bytes as A, sharing every blob; B of its own) and
 * two tree snapshots whose `sub` directory (a file stored through content lists) is the same,
 * so they share that subtree. 16 KiB packs, so every snapshot spans several.
 */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipshape-corruption-'));
  root = join(dir, 'repo');
  const repo = await Repository.init(openFsBackend(root), PASSWORD, OPTIONS);
  firstKey = repo.keyId;
  await repo.addKey(PASSWORD_2, 'ops');
  const a = Buffer.concat([randomBytes('a', 20_000), text('a', 12_000)]);
  const b = randomBytes('b', 16_000);
  for (const [name, data] of [
    ['a', a],
    ['c', a],
    ['b', b],
  ] as const) {
    const { snapshotId } = await repo.backupStream(once(data), {
      source: { type: 'stream', name },
    });
    truths.set(snapshotId, { kind: 'stream', data });
  }
  const big = randomBytes('big', 110_000);
  for (const name of ['one', 'two']) {
    const source = join(dir, 'src', name);
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'small.txt'), text(name, 1500));
    await writeFile(join(source, 'empty.txt'), '');
    await writeFile(join(source, 'sub', 'big.bin'), big);
    await symlink('small.txt', join(source, 'link'));
    const fixed = new Date('2026-01-02T03:04:05Z');
    await utimes(join(source, 'sub', 'big.bin'), fixed, fixed);
    const { snapshotId } = await repo.backupTree([source], { source: { type: 'paths' } });
    truths.set(snapshotId, { kind: 'tree', source });
  }
  await repo.close();
  map = await mapRepository(root, PASSWORD);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Flips one byte of an object on disk, runs `fn`, and puts the byte back. */
async function withFlip<T>(
  file: string,
  at: number,
  xor: number,
  fn: () => Promise<T>,
): Promise<T> {
  const bytes = await readFile(file);
  const original = bytes[at] ?? 0;
  bytes[at] = original ^ xor;
  await writeFile(file, bytes);
  try {
    return await fn();
  } finally {
    bytes[at] = original;
    await writeFile(file, bytes);
  }
}

/** Every regular file and symlink under `base`, relative path → content (or link target). */
async function walk(base: string, at = base, out = new Map<string, Buffer>()) {
  for (const name of await readdir(at)) {
    const path = join(at, name);
    const info = await lstat(path);
    if (info.isDirectory()) await walk(base, path, out);
    else if (info.isSymbolicLink())
      out.set(relative(base, path), Buffer.from(await readlink(path)));
    else out.set(relative(base, path), await readFile(path));
  }
  return out;
}

type RestoreOutcome = 'failed-loudly' | 'exact' | 'wrong';

/**
 * Restores a snapshot and compares with the truth: `failed-loudly` when it threw an exit-11
 * error having written only a prefix of the true bytes (of every file, for a tree), `exact`
 * when it succeeded with exactly the true bytes, `wrong` otherwise (with why).
 */
async function restore(
  repo: Repository,
  id: string,
): Promise<{ outcome: RestoreOutcome; why?: string }> {
  const truth = truths.get(id);
  if (truth === undefined) throw new Error(`no truth for ${id}`);
  let error: unknown;
  if (truth.kind === 'stream') {
    const out = new Collect();
    await repo.restoreStream(id, out).catch((e: unknown) => (error = e));
    const got = out.bytes;
    if (error === undefined) {
      return got.equals(truth.data) ? { outcome: 'exact' } : { outcome: 'wrong', why: 'differs' };
    }
    if (!got.equals(truth.data.subarray(0, got.length))) {
      return { outcome: 'wrong', why: `wrote ${got.length} bytes that are not a prefix` };
    }
  } else {
    const target = await mkdtemp(join(dir, 'restore-'));
    try {
      await repo.restoreTree(id, target).catch((e: unknown) => (error = e));
      const expected = await walk(join(truth.source, '..'));
      for (const [path, got] of await walk(target)) {
        const want = expected.get(path);
        if (want === undefined)
          return { outcome: 'wrong', why: `wrote ${path}, not in the source` };
        if (error === undefined ? !got.equals(want) : !got.equals(want.subarray(0, got.length))) {
          return { outcome: 'wrong', why: `${path}: ${got.length} bytes, not the true content` };
        }
      }
      if (error === undefined) {
        const written = await walk(target);
        const prefix = `${relative(join(truth.source, '..'), truth.source)}/`;
        for (const path of expected.keys()) {
          if (path.startsWith(prefix) && !written.has(path)) {
            return { outcome: 'wrong', why: `succeeded without ${path}` };
          }
        }
      }
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  }
  if (error === undefined) return { outcome: 'exact' };
  if (isShipError(error) && error.exitCode === ExitCode.repoCorrupt) {
    return { outcome: 'failed-loudly' };
  }
  return {
    outcome: 'wrong',
    why: `failed with ${error instanceof Error ? error.message : JSON.stringify(error)}`,
  };
}

const damagedIds = (report: CheckReport) => report.snapshots.damaged.map((s) => s.id).sort();
const objects = (report: CheckReport) => new Set<string>(report.problems.map((p) => p.object));

/** Flips tried and found per region class, for the summary. */
interface Tally {
  tried: number;
  detected: number;
  restoresFailedLoudly: number;
  restoresExact: number;
  /** Flips the structure and data check cannot see by design (see the class's note). */
  undetectable: number;
  ms: number;
}
const tallies = new Map<string, Tally>();
function tally(cls: string): Tally {
  let t = tallies.get(cls);
  if (t === undefined) {
    t = {
      tried: 0,
      detected: 0,
      restoresFailedLoudly: 0,
      restoresExact: 0,
      undetectable: 0,
      ms: 0,
    };
    tallies.set(cls, t);
  }
  return t;
}

/** The regions of each class to sweep, `PLAN.instances` of each picked by the seed. */
function selectRegions(filter: (region: Region) => boolean): Region[] {
  const random = prng(SEED);
  const byClass = new Map<string, Region[]>();
  for (const region of map.regions.filter(filter)) {
    const list = byClass.get(region.cls) ?? [];
    list.push(region);
    byClass.set(region.cls, list);
  }
  const out: Region[] = [];
  for (const cls of [...byClass.keys()].sort()) {
    const list = byClass.get(cls) ?? [];
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j] as Region, list[i] as Region];
    }
    out.push(...list.slice(0, PLAN.instances));
  }
  return out;
}

/** Where restore does not read: a damaged TOC or trailer leaves the blobs readable. */
const restoreReads = (cls: string) =>
  !cls.startsWith('pack/toc') && !cls.startsWith('pack/trailer');

describe(`corruption sweep (${FULL ? 'full' : 'reduced sample'}, seed ${SEED})`, () => {
  it(
    'every flip in packs, index files and manifests is found by check --read-data, naming the object and exactly the affected snapshots; restores fail loudly with a true prefix',
    async () => {
      const failures: string[] = [];
      const random = prng(SEED ^ 0x5eed);
      const regions = selectRegions((r) => ['data', 'index', 'snapshots'].includes(folderOf(r)));
      for (const region of regions) {
        const expected = [...expectedAffected(map, region)].sort();
        for (const at of pickPositions(region, random, PLAN.all, PLAN.sample)) {
          const xor = 1 + Math.floor(random() * 255);
          const label = `${region.cls} ${region.object}@${at}^${xor}`;
          const t = tally(region.cls);
          const started = performance.now();
          await withFlip(region.file, at, xor, async () => {
            t.tried++;
            const repo = await Repository.open(openFsBackend(root), PASSWORD, OPTIONS);
            try {
              const report = await repo.check({ readData: true });
              const found = !report.ok && objects(report).has(region.object);
              const named = JSON.stringify(damagedIds(report)) === JSON.stringify(expected);
              if (found && named) t.detected++;
              else {
                failures.push(
                  `${label}: ok=${report.ok} objects=${[...objects(report)].join(',')} damaged=${damagedIds(report).join(',')} expected=${expected.join(',')}`,
                );
              }
              for (const id of truths.keys()) {
                const { outcome, why } = await restore(repo, id);
                const affected = expected.includes(id);
                if (outcome === 'wrong') failures.push(`${label}: restore ${id}: ${why ?? ''}`);
                else if (affected && outcome === 'failed-loudly') t.restoresFailedLoudly++;
                else if (affected && outcome === 'exact') {
                  t.restoresExact++;
                  if (restoreReads(region.cls)) {
                    failures.push(`${label}: restore of affected ${id} succeeded`);
                  }
                } else if (
                  !affected &&
                  outcome === 'failed-loudly' &&
                  folderOf(region) !== 'index'
                ) {
                  // A damaged index file stops every restore (the index is loaded whole);
                  // any other damage must stay contained to the snapshots that need it.
                  failures.push(`${label}: restore of unaffected ${id} failed`);
                }
              }
            } finally {
              await repo.close();
            }
          });
          t.ms += performance.now() - started;
        }
      }
      expect(failures).toEqual([]);
      expect(regions.length).toBeGreaterThan(20);
    },
    FULL ? 3_600_000 : 120_000,
  );

  it(
    'a flip in a key file: check names it (or, inside `wrapped`, only its password can tell), opening with it fails loudly naming it, the other key still opens',
    async () => {
      const failures: string[] = [];
      const random = prng(SEED ^ 0x6b6579);
      const regions = map.regions.filter((r) => r.object === `keys/${firstKey}`);
      expect(regions.map((r) => r.cls).sort()).toEqual(['key/fields', 'key/syntax', 'key/wrapped']);
      for (const region of regions) {
        for (const at of pickPositions(region, random, 0, PLAN.keySample)) {
          const xor = 1 + Math.floor(random() * 255);
          const label = `${region.cls}@${at}^${xor}`;
          const t = tally(region.cls);
          const started = performance.now();
          await withFlip(region.file, at, xor, async () => {
            t.tried++;
            const other = await Repository.open(openFsBackend(root), PASSWORD_2, OPTIONS);
            let report: CheckReport;
            try {
              report = await other.check({ readData: true });
            } finally {
              await other.close();
            }
            const named = report.problems.some(
              (p) => p.code === 'key-unreadable' && p.object === `keys/${firstKey}`,
            );
            if (report.snapshots.damaged.length > 0) failures.push(`${label}: snapshots damaged`);
            const opened = await Repository.open(openFsBackend(root), PASSWORD, OPTIONS).then(
              (repo) => repo,
              (error: unknown) => error,
            );
            if (opened instanceof Repository) {
              // Opening proves the wrapped key authenticated: only an equivalent spelling of
              // the same JSON can get here. Check must still name the changed bytes.
              await opened.close();
              if (named) t.detected++;
              else failures.push(`${label}: opened and check found nothing`);
              return;
            }
            const loud =
              isShipError(opened) &&
              (opened.exitCode === ExitCode.repoCorrupt || opened.exitCode === ExitCode.wrongKey) &&
              opened.message.includes(firstKey.slice(0, 12));
            if (!loud)
              failures.push(`${label}: open failed without naming the key: ${String(opened)}`);
            if (named) t.detected++;
            else if (region.cls === 'key/wrapped') t.undetectable++;
            else failures.push(`${label}: check did not name the key file`);
          });
          t.ms += performance.now() - started;
        }
      }
      expect(failures).toEqual([]);
    },
    FULL ? 600_000 : 60_000,
  );

  it(
    'a flip in the config: opening fails loudly, or — the config is not authenticated — the repository still restores every snapshot exactly',
    async () => {
      const failures: string[] = [];
      const random = prng(SEED ^ 0xc0f1);
      for (const region of map.regions.filter((r) => r.object === 'config')) {
        for (const at of pickPositions(region, random, 0, PLAN.keySample)) {
          const xor = 1 + Math.floor(random() * 255);
          const label = `${region.cls}@${at}^${xor}`;
          const t = tally(region.cls);
          const started = performance.now();
          await withFlip(region.file, at, xor, async () => {
            t.tried++;
            const opened = await Repository.open(openFsBackend(root), PASSWORD, OPTIONS).then(
              (repo) => repo,
              (error: unknown) => error,
            );
            if (!(opened instanceof Repository)) {
              const loud =
                isShipError(opened) &&
                opened.exitCode === ExitCode.repoCorrupt &&
                opened.message.includes('repository config');
              if (loud) t.detected++;
              else failures.push(`${label}: open failed with ${String(opened)}`);
              return;
            }
            try {
              const report = await opened.check({ readData: true });
              if (report.problems.some((p) => p.object === 'config')) t.detected++;
              else t.undetectable++;
              for (const id of truths.keys()) {
                const { outcome, why } = await restore(opened, id);
                if (outcome !== 'exact')
                  failures.push(`${label}: restore ${id}: ${outcome} ${why ?? ''}`);
                else t.restoresExact++;
              }
            } finally {
              await opened.close();
            }
          });
          t.ms += performance.now() - started;
        }
      }
      expect(failures).toEqual([]);
    },
    FULL ? 600_000 : 60_000,
  );

  it('through the CLI: repo check --read-data exits 11 naming object and snapshots; restore exits 11 with a true prefix', async () => {
    const env = { SHIPSHAPE_REPO_PASSWORD: PASSWORD, SHIPSHAPE_REPO: '' };
    const random = prng(SEED ^ 0xc11);
    // The data blob is one a stream snapshot needs, so that its restore can be run below.
    const needsStream = (r: Region) =>
      [...expectedAffected(map, r)].some((id) => truths.get(id)?.kind === 'stream');
    const pick = (cls: string) =>
      selectRegions((r) => r.cls === cls && (cls !== 'pack/data-blob/body' || needsStream(r)))[0];
    for (const cls of [
      'pack/data-blob/body',
      'pack/list-blob/tag',
      'pack/toc/body',
      'index/body',
    ]) {
      const region = pick(cls);
      if (region === undefined) throw new Error(`no region ${cls}`);
      const [at = 0] = pickPositions(region, random, 0, 1);
      const expected = [...expectedAffected(map, region)].sort();
      await withFlip(region.file, at, 0x40, async () => {
        const run = await runCli(['repo', 'check', '--repo', root, '--read-data', '--json'], {
          cwd: dir,
          env,
        });
        expect(run.code, `${cls}: ${run.stderr}`).toBe(ExitCode.repoCorrupt);
        const report = JSON.parse(run.stdout) as CheckReport;
        expect(objects(report).has(region.object), cls).toBe(true);
        expect(damagedIds(report), cls).toEqual(expected);
        if (cls !== 'pack/data-blob/body') return;
        const stream = expected.find((id) => truths.get(id)?.kind === 'stream');
        const truth = stream === undefined ? undefined : truths.get(stream);
        if (stream === undefined || truth?.kind !== 'stream') throw new Error('no stream affected');
        const restored = await runCli(['repo', 'restore', stream, '--repo', root, '--stdout'], {
          cwd: dir,
          env,
        });
        expect(restored.code, restored.stderr).toBe(ExitCode.repoCorrupt);
        expect(restored.stderr).toMatch(/SHIP_REPO_CORRUPT/);
        const got = restored.stdoutBytes;
        expect(got.equals(truth.data.subarray(0, got.length))).toBe(true);
      });
    }
  });

  it('pins the gaps the sweep found: equivalent spellings of key files and the config, a key named on a failed open', async () => {
    const keyFile = join(root, 'keys', firstKey);
    const keyText = await readFile(keyFile, 'utf8');
    const openWith = (password: string) =>
      Repository.open(openFsBackend(root), password, OPTIONS).then(
        (repo) => repo,
        (error: unknown) => error,
      );
    const checkWith = async (password: string) => {
      const repo = await Repository.open(openFsBackend(root), password, OPTIONS);
      try {
        return await repo.check();
      } finally {
        await repo.close();
      }
    };
    try {
      // A space turned into a tab: the same JSON, so the key still opens; check names it.
      await writeFile(keyFile, keyText.replace('  "kdf"', ' \t"kdf"'));
      const opened = await openWith(PASSWORD);
      expect(opened).toBeInstanceOf(Repository);
      if (opened instanceof Repository) await opened.close();
      const report = await checkWith(PASSWORD_2);
      expect(report.problems).toEqual([
        expect.objectContaining({ code: 'key-unreadable', object: `keys/${firstKey}` }),
      ]);
      expect(report.problems[0]?.message).toMatch(/differ from how shipshape writes it/);

      // The last character of `wrapped` with an unused low bit set decodes to the same bytes;
      // it is refused as a changed file, and the failed open names the key files it tried.
      const wrapped = /"wrapped": "([^"]+)"/.exec(keyText)?.[1] ?? '';
      const body = wrapped.replace(/=+$/, '');
      const last = body.at(-1) ?? 'A';
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const changed = alphabet[alphabet.indexOf(last) ^ 1] ?? 'A';
      const spelled = `${body.slice(0, -1)}${changed}${wrapped.slice(body.length)}`;
      expect(Buffer.from(spelled, 'base64').equals(Buffer.from(wrapped, 'base64'))).toBe(true);
      await writeFile(keyFile, keyText.replace(wrapped, spelled));
      const refused = await openWith(PASSWORD);
      expect(refused).toMatchObject({ code: 'SHIP_REPO_WRONG_KEY', exitCode: ExitCode.wrongKey });
      expect(String(refused)).toContain(`keys/${firstKey.slice(0, 12)}`);
      expect(String(refused)).toMatch(/canonical base64/);
      expect(await openWith(PASSWORD_2)).toBeInstanceOf(Repository);
    } finally {
      await writeFile(keyFile, keyText);
    }

    const configFile = join(root, 'config');
    const configText = await readFile(configFile, 'utf8');
    try {
      await writeFile(configFile, configText.replace('\n}', ' \n}'));
      const report = await checkWith(PASSWORD);
      expect(report.problems).toEqual([
        expect.objectContaining({ code: 'config-unreadable', object: 'config' }),
      ]);
      // A chunker size `repo init` refuses: exit 11 (a changed config), naming the config.
      await writeFile(configFile, configText.replace(/"avg": \d+/, '"avg": 1000'));
      const refused = await openWith(PASSWORD);
      expect(refused).toMatchObject({ exitCode: ExitCode.repoCorrupt });
      expect(String(refused)).toMatch(/repository config at .*avgSize/);
    } finally {
      await writeFile(configFile, configText);
    }
  });

  afterAll(() => {
    if (tallies.size === 0) return;
    const rows = [...tallies].sort(([a], [b]) => a.localeCompare(b));
    const lines = [
      `corruption sweep (${FULL ? 'full' : 'reduced'}, seed ${SEED})`,
      '| region | flips | detected | undetectable by design | restores of affected snapshots failed loudly | restores exact | ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        ([cls, t]) =>
          `| ${cls} | ${t.tried} | ${t.detected} | ${t.undetectable} | ${t.restoresFailedLoudly} | ${t.restoresExact} | ${Math.round(t.ms)} |`,
      ),
    ];
    console.log(lines.join('\n'));
  });
});
