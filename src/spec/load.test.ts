import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ShipError } from '../core/index.js';
import {
  findSpecFile,
  holdersOf,
  loadSpec,
  MAX_SPEC_BYTES,
  parseSpec,
  personForOsUser,
  rolesOf,
} from './index.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/specs/', import.meta.url));
const fullText = readFileSync(join(fixtures, 'valid/full.yaml'), 'utf8');

function failure(fn: () => unknown): ShipError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

async function failureAsync(promise: Promise<unknown>): Promise<ShipError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

describe('parseSpec on the full example', () => {
  const { spec, file, dir } = parseSpec(fullText, join(fixtures, 'valid/full.yaml'));

  it('reports where it came from', () => {
    expect(file).toBe(join(fixtures, 'valid/full.yaml'));
    expect(dir).toBe(join(fixtures, 'valid'));
  });

  it('parses durations to milliseconds and sizes to bytes', () => {
    const approval = spec.environments.production?.release?.approval;
    expect(approval).toEqual({
      roles: ['sre-lead', 'release-manager'],
      count: 2,
      requester_can_approve: false,
      pending_timeout: 48 * 3_600_000,
      valid_for: 5_400_000,
    });
    expect(spec.datastores.orders?.objectives).toEqual({ rto: 1_800_000, rpo: 3_600_000 });
    expect(spec.repositories.offsite?.pack_size).toBe(16 * 1024 * 1024);
  });

  it('applies defaults', () => {
    expect(spec.datastores.sessions?.schedule).toEqual({ cron: '*/15 * * * *', timezone: 'UTC' });
    expect(spec.datastores.sessions?.fingerprint).toBe('counts');
    expect(spec.ledger?.checkpoint_log).toBe('.shipshape/ledger-checkpoints.jsonl');
  });

  it('resolves YAML merge keys and ignores top-level x- keys', () => {
    expect(spec.datastores.orders?.retention).toEqual({
      keep_last: 3,
      keep_daily: 7,
      keep_weekly: 4,
      keep_monthly: 12,
      keep_within: 2 * 86_400_000,
    });
    expect(Object.keys(spec)).not.toContain('x-backup-defaults');
  });

  it('keeps secret references unresolved', () => {
    expect(spec.repositories.local?.key).toBe('${file:.shipshape/keys/local.key}');
    expect(spec.datastores.orders?.connection.production).toBe('${env:ORDERS_PRODUCTION_URL}');
  });

  it('answers role questions from the spec alone', () => {
    expect(rolesOf(spec, 'alice')).toEqual(['sre-lead', 'deployer', 'admin']);
    expect(rolesOf(spec, 'carol')).toEqual(['security-lead', 'qa-lead', 'release-manager']);
    expect(rolesOf(spec, 'nobody')).toEqual([]);
    expect(personForOsUser(spec, 'root')).toBe('alice');
    expect(personForOsUser(spec, 'carol')).toBe('carol');
    expect(personForOsUser(spec, 'bob')).toBeUndefined();
    expect(holdersOf(spec, 'deployer')).toEqual(['alice', 'bob']);
    expect(holdersOf(spec, 'nope')).toEqual([]);
  });
});

describe('parseSpec on a minimal spec', () => {
  it('fills every map section with an empty map', () => {
    const { spec } = parseSpec('version: 1\nservice:\n  name: tiny\n', 'shipshape.yaml');
    expect(spec).toEqual({
      version: 1,
      service: { name: 'tiny' },
      people: {},
      roles: {},
      environments: {},
      repositories: {},
      datastores: {},
    });
  });
});

describe('problem reports', () => {
  it('throws one SHIP_SPEC_INVALID with exit code 2 and every problem located', () => {
    const error = failure(() =>
      parseSpec('version: 1\nservice:\n  name: x\n  nme: y\nbogus: 1\n', 'spec.yaml'),
    );
    expect(error.code).toBe('SHIP_SPEC_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('spec.yaml: 2 problems in the spec');
    expect(error.problems.map((p) => [p.code, p.path, p.location])).toEqual([
      ['SHIP_SPEC_UNKNOWN_KEY', 'service.nme', { file: 'spec.yaml', line: 4, column: 3 }],
      ['SHIP_SPEC_UNKNOWN_KEY', 'bogus', { file: 'spec.yaml', line: 5, column: 1 }],
    ]);
  });

  it('never repeats a literal password it found', () => {
    for (const name of [
      'literal-password-postgres',
      'literal-password-redis',
      'literal-password-dsn',
    ]) {
      const text = readFileSync(join(fixtures, `broken/${name}.yaml`), 'utf8');
      const error = failure(() => parseSpec(text, name));
      const everything = JSON.stringify(error.toJSON()) + error.message;
      for (const secret of ['hunter2', 'correct-horse', 's3cr3t']) {
        expect(everything).not.toContain(secret);
      }
    }
    const key = failure(() =>
      parseSpec(readFileSync(join(fixtures, 'broken/literal-repository-key.yaml'), 'utf8'), 'k'),
    );
    expect(JSON.stringify(key.toJSON())).not.toContain('correct-horse-battery-staple');
  });

  it('locates problems inside aliased nodes at the alias', () => {
    const text = [
      'version: 1',
      'service: {name: x}',
      'x-people: &p {name: A, os_users: [a], rank: 1}',
      'people:',
      '  a: *p',
    ].join('\n');
    const error = failure(() => parseSpec(text, 's.yaml'));
    expect(error.problems.map((p) => [p.code, p.path])).toEqual([
      ['SHIP_SPEC_UNKNOWN_KEY', 'people.a.rank'],
    ]);
    expect(error.problems[0]?.location?.line).toBe(3);
  });
});

/** Deterministic pseudo-random numbers (mulberry32), so that a failure reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Either a loaded spec or a located SHIP_SPEC_INVALID: never anything else. */
function expectHandled(text: string): void {
  try {
    parseSpec(text, 'hostile.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ShipError);
    const shipError = error as ShipError;
    expect(shipError.code).toBe('SHIP_SPEC_INVALID');
    expect(shipError.problems.length).toBeGreaterThan(0);
    for (const problem of shipError.problems) {
      expect(problem.code).toMatch(/^SHIP_SPEC_[A-Z_]+$/);
      expect(problem.location?.line).toBeGreaterThanOrEqual(1);
    }
  }
}

describe('hostile input', () => {
  it('survives binary garbage', () => {
    const next = random(1);
    for (let round = 0; round < 20; round += 1) {
      const bytes = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(next() * 256)));
      expectHandled(bytes.toString('latin1'));
      expectHandled(bytes.toString('utf8'));
    }
    expectHandled('\u0000\u0000\u0000');
    expectHandled('\ufeffversion: 1');
  });

  it('survives deep nesting', () => {
    expectHandled('['.repeat(50_000));
    expectHandled(`a: ${'{b: '.repeat(20_000)}1${'}'.repeat(20_000)}`);
    expectHandled(`a: ${'- '.repeat(20_000)}x`);
    expectHandled(`${'- '.repeat(20_000)}x`);
    // Deep block nesting within the size limit.
    expectHandled(Array.from({ length: 1400 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'));
  });

  it('refuses a billion laughs', () => {
    const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let level = 1; level < 20; level += 1) {
      lines.push(
        `a${level}: &a${level} [${Array(10)
          .fill(`*a${level - 1}`)
          .join(', ')}]`,
      );
    }
    const error = failure(() => parseSpec(lines.join('\n'), 'laughs.yaml'));
    expect(error.problems[0]?.message).toContain('billion laughs');
  });

  it('refuses a file over the size limit', () => {
    const error = failure(() => parseSpec(`# ${'x'.repeat(MAX_SPEC_BYTES)}\n`, 'big.yaml'));
    expect(error.problems[0]?.code).toBe('SHIP_SPEC_TOO_LARGE');
  });

  it('survives random mutations of a valid spec', () => {
    const next = random(42);
    const alphabet = [
      '',
      ' ',
      '\n',
      ':',
      '-',
      '[',
      ']',
      '{',
      '}',
      '&a',
      '*a',
      '"',
      "'",
      '#',
      '\t',
      '${',
      '!!',
      '|',
      '>',
      '?',
      '%',
    ];
    for (let round = 0; round < 150; round += 1) {
      let text = fullText;
      for (let edit = 0; edit < 1 + Math.floor(next() * 4); edit += 1) {
        const at = Math.floor(next() * text.length);
        const cut = Math.floor(next() * 8);
        const insert = alphabet[Math.floor(next() * alphabet.length)] ?? '';
        text = text.slice(0, at) + insert + text.slice(at + cut);
      }
      expectHandled(text);
    }
  });
});

describe('findSpecFile', () => {
  const root = mkdtempSync(join(tmpdir(), 'shipshape-find-'));

  it('fails with SHIP_SPEC_NOT_FOUND and points at shipshape init', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const error = failure(() => findSpecFile(empty));
    expect(error.code).toBe('SHIP_SPEC_NOT_FOUND');
    expect(error.exitCode).toBe(2);
    expect(error.hint).toContain('shipshape init');
  });

  it('prefers shipshape.yaml over shipshape.yml', () => {
    const both = join(root, 'both');
    mkdirSync(both);
    writeFileSync(join(both, 'shipshape.yml'), '');
    expect(findSpecFile(both)).toBe(join(both, 'shipshape.yml'));
    writeFileSync(join(both, 'shipshape.yaml'), '');
    expect(findSpecFile(both)).toBe(join(both, 'shipshape.yaml'));
  });

  it('uses an explicit path relative to cwd, and fails when it is missing', () => {
    writeFileSync(join(root, 'custom.yaml'), '');
    expect(findSpecFile(root, 'custom.yaml')).toBe(join(root, 'custom.yaml'));
    expect(failure(() => findSpecFile(root, 'nope.yaml')).code).toBe('SHIP_SPEC_NOT_FOUND');
  });
});

describe('loadSpec', () => {
  const root = mkdtempSync(join(tmpdir(), 'shipshape-load-'));

  it('loads a file and reports its absolute directory', async () => {
    const file = join(root, 'shipshape.yaml');
    writeFileSync(file, 'version: 1\nservice:\n  name: loaded\n');
    const loaded = await loadSpec(file);
    expect(loaded.spec.service.name).toBe('loaded');
    expect(loaded.dir).toBe(root);
  });

  it('fails with SHIP_SPEC_NOT_FOUND for a missing file', async () => {
    const error = await failureAsync(loadSpec(join(root, 'missing.yaml')));
    expect(error.code).toBe('SHIP_SPEC_NOT_FOUND');
    expect(error.exitCode).toBe(2);
    expect(error.hint).toContain('shipshape init');
  });

  it('fails with SHIP_SPEC_UNREADABLE for a directory', async () => {
    const error = await failureAsync(loadSpec(root));
    expect(error.code).toBe('SHIP_SPEC_UNREADABLE');
    expect(error.exitCode).toBe(2);
  });

  it('refuses an oversized file before reading it', async () => {
    const file = join(root, 'big.yaml');
    writeFileSync(file, Buffer.alloc(MAX_SPEC_BYTES + 1, 0x23));
    const error = await failureAsync(loadSpec(file));
    expect(error.problems[0]?.code).toBe('SHIP_SPEC_TOO_LARGE');
  });
});
