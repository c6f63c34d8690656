import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact, ShipError } from '../core/index.js';
import {
  findSecretRefs,
  isSingleSecretRef,
  resolveSecretString,
  scanSecretRefs,
} from './secrets.js';

function thrown(fn: () => unknown): ShipError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

describe('scanSecretRefs', () => {
  it('finds env and file references with their positions', () => {
    const { refs, bad } = scanSecretRefs('postgres://u:${env:PG_PW}@h/${file:db name}');
    expect(bad).toEqual([]);
    expect(refs.map(({ kind, name }) => ({ kind, name }))).toEqual([
      { kind: 'env', name: 'PG_PW' },
      { kind: 'file', name: 'db name' },
    ]);
  });

  it.each([
    ['${ENV:X}', 'lower-case'],
    ['${X}', '`${env:X}`'],
    ['${env:1X}', 'environment variable name'],
    ['${env:X', 'not closed'],
    ['${file: a}', 'surrounding spaces'],
    ['${vault:x}', 'only `env:` and `file:`'],
  ])('reports %j as malformed', (text, why) => {
    const { refs, bad } = scanSecretRefs(`a${text}b`);
    expect(refs).toEqual([]);
    expect(bad[0]?.reason).toContain(why);
  });

  it('leaves a lone dollar alone', () => {
    expect(scanSecretRefs('costs $5 {not a ref}')).toEqual({ refs: [], bad: [] });
  });
});

describe('isSingleSecretRef', () => {
  it.each([
    ['${env:KEY}', true],
    ['${file:keys/a.key}', true],
    ['x${env:KEY}', false],
    ['${env:A}${env:B}', false],
    ['literal', false],
    ['${ENV:KEY}', false],
  ])('%s → %s', (value, expected) => {
    expect(isSingleSecretRef(value)).toBe(expected);
  });
});

describe('findSecretRefs', () => {
  it('walks structures in document order and lists each reference once', () => {
    expect(
      findSecretRefs({
        a: '${env:A}',
        b: ['${file:k}', { c: 'x ${env:A} ${env:B}' }],
        n: 5,
      }),
    ).toEqual([
      { kind: 'env', name: 'A' },
      { kind: 'file', name: 'k' },
      { kind: 'env', name: 'B' },
    ]);
  });
});

describe('resolveSecretString', () => {
  const baseDir = mkdtempSync(join(tmpdir(), 'shipshape-secrets-'));

  it('replaces environment references', () => {
    const env = { PG_PASSWORD: 'pw-from-env-1234' };
    expect(resolveSecretString('postgres://u:${env:PG_PASSWORD}@h/db', { baseDir, env })).toBe(
      'postgres://u:pw-from-env-1234@h/db',
    );
  });

  it('reads file references relative to baseDir, trimming one trailing newline', () => {
    writeFileSync(join(baseDir, 'repo.key'), 'key-from-file-5678\n');
    expect(resolveSecretString('${file:repo.key}', { baseDir })).toBe('key-from-file-5678');
    writeFileSync(join(baseDir, 'crlf.key'), 'crlf-secret-0000\r\n\n');
    expect(resolveSecretString('${file:crlf.key}', { baseDir })).toBe('crlf-secret-0000\r\n');
  });

  it('accepts absolute file paths', () => {
    const path = join(baseDir, 'abs.key');
    writeFileSync(path, 'absolute-secret-9999');
    expect(resolveSecretString(`\${file:${path}}`, { baseDir: '/nonexistent' })).toBe(
      'absolute-secret-9999',
    );
  });

  it('registers every resolved secret for redaction', () => {
    const env = { CANARY: 'canary-c4f3-b00c' };
    const resolved = resolveSecretString('token ${env:CANARY}', { baseDir, env });
    expect(redact(resolved)).not.toContain('canary-c4f3-b00c');
  });

  it('leaves text without references untouched', () => {
    expect(resolveSecretString('/var/lib/app.db', { baseDir, env: {} })).toBe('/var/lib/app.db');
  });

  it('fails at use time on an unset variable, naming it and the field', () => {
    const error = thrown(() =>
      resolveSecretString('postgres://u:${env:ORDERS_PW}@h/db', {
        baseDir,
        env: {},
        field: 'datastores.orders.connection.production',
      }),
    );
    expect(error.code).toBe('SHIP_SECRET_UNSET');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'environment variable ORDERS_PW is not set (referenced by `datastores.orders.connection.production`)',
    );
    expect(error.details).toMatchObject({ kind: 'env', name: 'ORDERS_PW' });
  });

  it('fails on a missing file, naming it', () => {
    const error = thrown(() => resolveSecretString('${file:missing.key}', { baseDir }));
    expect(error.code).toBe('SHIP_SECRET_UNSET');
    expect(error.message).toBe(`secret file ${join(baseDir, 'missing.key')} does not exist`);
  });

  it('fails on a directory with SHIP_SECRET_UNREADABLE', () => {
    const error = thrown(() => resolveSecretString('${file:.}', { baseDir }));
    expect(error.code).toBe('SHIP_SECRET_UNREADABLE');
  });

  it('refuses malformed references', () => {
    const error = thrown(() => resolveSecretString('${ENV:X}', { baseDir, env: { X: 'y' } }));
    expect(error.code).toBe('SHIP_SPEC_BAD_SECRET_REF');
  });
});
