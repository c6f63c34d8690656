import { describe, expect, it } from 'vitest';

import type { IntegrityCheck } from '../spec/index.js';

import { describeIntegrityExpectation, sqlValueEquals } from './integrity-checks.js';

describe('sqlValueEquals', () => {
  it.each([
    ['42', 42, true],
    [' 42 ', 42, true],
    ['42.0', 42, true],
    ['1.50', 1.5, true],
    [42, 42, true],
    ['43', 42, false],
    ['9007199254740993', 9007199254740992, false],
    ['abc', 0, false],
    [null, 0, false],
    [true, 1, true],
    [false, 0, true],
    [true, true, true],
    [1, true, true],
    ['1', true, true],
    ['t', true, true],
    ['TRUE', true, true],
    [0, false, true],
    ['f', false, true],
    [0, true, false],
    ['yes', true, false],
    [null, false, false],
    ['abc', 'abc', true],
    ['abc', 'ABC', false],
    [7, '7', true],
    [null, 'NULL', false],
  ] as const)('%j equals %j → %s', (value, expected, equal) => {
    expect(sqlValueEquals(value, expected)).toBe(equal);
  });
});

describe('describeIntegrityExpectation', () => {
  const base = { name: 'c' };
  it.each<[Partial<IntegrityCheck>, string]>([
    [{ sql: 'SELECT 1', equals: 0 }, '= 0'],
    [{ sql: 'SELECT 1', equals: 'ok' }, '= "ok"'],
    [{ sql: 'SELECT 1', min: 1 }, '>= 1'],
    [{ sql: 'SELECT 1', max: 9 }, '<= 9'],
    [{ sql: 'SELECT 1', min: 1, max: 10 }, 'between 1 and 10'],
    [{ sql: 'SELECT 1', equals: 5, min: 1 }, '= 5, >= 1'],
    [{ key: 'k' }, 'exists'],
    [{ key: 'k', exists: false }, 'absent'],
    [{ key: 'k', type: 'hash', min: 3 }, 'exists, type hash, size >= 3'],
    [{ key: 'k', equals: 'on', max: 2 }, 'exists, value = "on", size <= 2'],
  ])('%j → %s', (check, text) => {
    expect(describeIntegrityExpectation({ ...base, ...check })).toBe(text);
  });
});
