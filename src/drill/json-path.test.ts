import { describe, expect, it } from 'vitest';

import { isShipError } from '../core/index.js';

import { formatJsonPath, jsonEquals, jsonPathGet, parseJsonPath } from './json-path.js';

const doc = {
  count: 2,
  empty: null,
  flag: false,
  orders: [
    { id: 1, customer: { name: 'Ada' }, tags: ['new', 'paid'] },
    { id: 2, customer: { name: 'Grace' }, tags: [] },
  ],
  'key.with.dots': 'dotted',
  "it's": 'quoted',
  'with space': { inner: 7 },
};

describe('jsonPathGet', () => {
  it.each([
    ['count', 2],
    ['$.count', 2],
    ['.count', 2],
    ['orders[0].id', 1],
    ['$.orders[1].customer.name', 'Grace'],
    ['orders[0].tags[1]', 'paid'],
    ["$['key.with.dots']", 'dotted'],
    ['$["key.with.dots"]', 'dotted'],
    ["$['it\\'s']", 'quoted'],
    ["['with space'].inner", 7],
    ['empty', null],
    ['flag', false],
    ['orders[1].tags', []],
  ])('finds %s', (path, value) => {
    expect(jsonPathGet(doc, path)).toEqual({ found: true, value });
  });

  it('returns the whole document for $', () => {
    expect(jsonPathGet(doc, '$')).toEqual({ found: true, value: doc });
  });

  it('indexes a top-level array', () => {
    expect(jsonPathGet([{ id: 5 }], '[0].id')).toEqual({ found: true, value: 5 });
    expect(jsonPathGet([{ id: 5 }], '$[0].id')).toEqual({ found: true, value: 5 });
  });

  it.each([
    ['missing', 'missing'],
    ['orders[5].id', 'orders[5]'],
    ['orders[0].nope.deeper', 'orders[0].nope'],
    ['count.value', 'count.value'],
    ['orders.id', 'orders.id'],
    ['count[0]', 'count[0]'],
    ['empty.x', 'empty.x'],
    ["['with space'].gone", "['with space'].gone"],
  ])('reports %s as missing at %s', (path, at) => {
    expect(jsonPathGet(doc, path)).toEqual({ found: false, at });
  });

  it('does not find inherited properties', () => {
    expect(jsonPathGet({}, 'constructor')).toEqual({ found: false, at: 'constructor' });
    expect(jsonPathGet([1, 2], 'length')).toEqual({ found: false, at: 'length' });
  });

  it.each([
    ['', 'is empty'],
    ['a..b', 'empty or malformed name'],
    ['a.', 'empty or malformed name'],
    ['a[', 'bad index'],
    ['a[x]', 'bad index'],
    ['a[-1]', 'negative indexes'],
    ['a[*]', 'wildcards'],
    ["a['b", 'unclosed'],
    ["a['b'", 'needs `]`'],
    ['a[0]b', 'unexpected b'],
    ['$a', 'unexpected a'],
  ])('rejects %j', (path, why) => {
    let caught: unknown;
    try {
      jsonPathGet(doc, path);
    } catch (error) {
      caught = error;
    }
    expect(isShipError(caught)).toBe(true);
    if (!isShipError(caught)) return;
    expect(caught.code).toBe('SHIP_DRILL_BAD_JSON_PATH');
    expect(caught.exitCode).toBe(2);
    expect(caught.message).toContain(why);
    expect(caught.hint).toContain('orders[0].id');
  });
});

describe('parseJsonPath and formatJsonPath', () => {
  it('round-trips names, indexes and quoted keys', () => {
    const segments = parseJsonPath("$.orders[0]['unit price'].x");
    expect(segments).toEqual([
      { kind: 'key', key: 'orders' },
      { kind: 'index', index: 0 },
      { kind: 'key', key: 'unit price' },
      { kind: 'key', key: 'x' },
    ]);
    expect(formatJsonPath(segments)).toBe("orders[0]['unit price'].x");
    expect(formatJsonPath(parseJsonPath("['it\\'s']"))).toBe("['it\\'s']");
    expect(formatJsonPath([])).toBe('$');
  });
});

describe('jsonEquals', () => {
  it.each([
    [1, 1, true],
    [1, '1', false],
    [0, -0, true],
    [null, null, true],
    [null, {}, false],
    [[1, 2], [1, 2], true],
    [[1, 2], [2, 1], false],
    [[1], [1, 1], false],
    [{ a: 1, b: [true] }, { b: [true], a: 1 }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: 1, b: 2 }, { a: 1, c: 2 }, false],
    [[], {}, false],
    ['x', 'x', true],
  ])('%j vs %j → %s', (a, b, equal) => {
    expect(jsonEquals(a, b)).toBe(equal);
  });
});
