/**
 * The `drill` section and `datastores.<name>.integrity.checks`: what loads, what is refused,
 * and how the refusal reads (code, path, message, hint).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { isShipError, type Problem } from '../../src/core/index.js';
import { parseSpec, type Spec } from '../../src/spec/index.js';

const HEAD =
  'version: 1\nservice:\n  name: shop\nenvironments:\n  production: {}\n  staging: {}\n' +
  'repositories:\n  local:\n    url: ./repo\n    key: ${env:KEY}\n';

const STORES =
  'datastores:\n' +
  '  orders:\n    kind: postgres\n    connection:\n      production: postgres://app:${env:PW}@db/orders\n    repository: local\n' +
  '  sessions:\n    kind: redis\n    connection:\n      production: redis://cache:6379\n    repository: local\n';

function load(text: string): Spec {
  return parseSpec(text, '/srv/shop/shipshape.yaml').spec;
}

function problems(text: string): Problem[] {
  try {
    parseSpec(text, '/srv/shop/shipshape.yaml');
  } catch (error) {
    if (!isShipError(error)) throw error;
    expect(error.exitCode).toBe(2);
    return error.problems;
  }
  throw new Error('expected the spec to be refused');
}

/** The one problem of a spec, checked to be the only one. */
function problem(text: string): Problem {
  const found = problems(text);
  expect(found, JSON.stringify(found, null, 2)).toHaveLength(1);
  return found[0]!;
}

function withChecks(store: 'orders' | 'sessions', checks: string): string {
  const marker =
    store === 'orders'
      ? '@db/orders\n    repository: local\n'
      : 'cache:6379\n    repository: local\n';
  return HEAD + STORES.replace(marker, `${marker}    integrity:\n      checks:\n${checks}`);
}

describe('drill spec: valid examples', () => {
  it('loads the documented example with durations in milliseconds and defaults applied', () => {
    const file = fileURLToPath(new URL('../fixtures/specs/valid/drill.yaml', import.meta.url));
    const spec = parseSpec(readFileSync(file, 'utf8'), file).spec;
    const drill = spec.drill!;
    expect(drill.environment).toBe('production');
    expect(drill.datastores).toEqual(['orders', 'sessions', 'catalog']);
    expect(drill.objectives).toEqual({ rto: 20 * 60_000, rpo: 3_600_000 });
    expect(drill.valid_for).toBe(14 * 86_400_000);
    expect(drill.service?.start_timeout).toBe(120_000);
    expect(drill.service?.stop_timeout).toBe(15_000);
    expect(drill.service?.checks.map((c) => [c.name, c.status, c.timeout])).toEqual([
      ['list-orders', 200, 10_000],
      ['first-product', 200, 10_000],
      ['create-order', 201, 5_000],
    ]);
    // References stay unresolved in the parsed spec.
    expect(drill.targets.orders).toContain('${env:DR_ORDERS_PASSWORD}');
    expect(spec.datastores.sessions?.integrity?.checks.map((c) => c.name)).toEqual([
      'feature-flags',
      'no-stale-lock',
      'schema-version',
    ]);
  });

  it('loads a minimal drill section with its defaults', () => {
    const spec = load(HEAD + STORES + 'drill: {}\n');
    expect(spec.drill).toEqual({ targets: {}, valid_for: 30 * 86_400_000 });
  });

  it('accepts SQL checks with equals, min or max, and key checks with exists/type', () => {
    const spec = load(
      withChecks(
        'orders',
        '        - { name: none-negative, sql: SELECT count(*) FROM orders WHERE amount < 0, equals: 0 }\n' +
          '        - { name: some, sql: SELECT count(*) FROM orders, min: 1, max: 100 }\n',
      ).replace(
        'cache:6379\n    repository: local\n',
        'cache:6379\n    repository: local\n    integrity:\n      checks:\n' +
          '        - { name: flags, key: config:flags, type: hash, min: 1 }\n' +
          '        - { name: no-lock, key: lock:x, exists: false }\n',
      ),
    );
    expect(spec.datastores.orders?.integrity?.checks).toHaveLength(2);
    expect(spec.datastores.sessions?.integrity?.checks[1]).toEqual({
      name: 'no-lock',
      key: 'lock:x',
      exists: false,
    });
  });
});

describe('integrity checks: refused', () => {
  it('refuses an SQL check on a redis store', () => {
    const p = problem(withChecks('sessions', '        - { name: q, sql: SELECT 1, equals: 1 }\n'));
    expect(p.code).toBe('SHIP_SPEC_BAD_VALUE');
    expect(p.path).toBe('datastores.sessions.integrity.checks.0');
    expect(p.message).toContain('an `sql` check cannot run against a `redis` data store');
    expect(p.expected).toBe('`key:` checks');
  });

  it('refuses a key check on a postgres store', () => {
    const p = problem(withChecks('orders', '        - { name: k, key: config:flags }\n'));
    expect(p.code).toBe('SHIP_SPEC_BAD_VALUE');
    expect(p.path).toBe('datastores.orders.integrity.checks.0');
    expect(p.message).toContain('a `key` check runs against redis only, not `postgres`');
    expect(p.hint).toContain('SQL checks suit postgres');
  });

  it('refuses a check with both sql and key, and one with neither', () => {
    const both = problems(
      withChecks('orders', '        - { name: b, sql: SELECT 1, key: k, equals: 1 }\n'),
    );
    expect(both.map((p) => p.message)).toContain(
      'a check needs exactly one of `sql` (a query) or `key` (a Redis key)',
    );
    const neither = problem(withChecks('orders', '        - { name: n, equals: 1 }\n'));
    expect(neither.message).toBe(
      'a check needs exactly one of `sql` (a query) or `key` (a Redis key)',
    );
    expect(neither.path).toBe('datastores.orders.integrity.checks.0');
  });

  it('refuses an SQL check without an expectation', () => {
    const p = problem(
      withChecks('orders', '        - { name: q, sql: SELECT count(*) FROM orders }\n'),
    );
    expect(p.code).toBe('SHIP_SPEC_MISSING_KEY');
    expect(p.message).toBe('an SQL check needs an expectation');
    expect(p.expected).toBe('at least one of `equals`, `min`, `max`');
    expect(p.hint).toContain('equals: 0');
  });

  it('refuses exists/type on an SQL check and an unknown key type', () => {
    const p = problem(
      withChecks('orders', '        - { name: q, sql: SELECT 1, equals: 1, exists: true }\n'),
    );
    expect(p.message).toBe('`exists` and `type` apply to Redis key checks only');
    const t = problem(withChecks('sessions', '        - { name: k, key: x, type: tree }\n'));
    expect(t.path).toBe('datastores.sessions.integrity.checks.0.type');
    expect(t.expected).toBe('one of string, list, set, zset, hash, stream');
  });
});

describe('drill section: refused', () => {
  it('refuses an unknown data store in drill.datastores, suggesting the close one', () => {
    const p = problem(HEAD + STORES + 'drill:\n  datastores: [orders, sesions]\n');
    expect(p.code).toBe('SHIP_SPEC_UNKNOWN_REFERENCE');
    expect(p.path).toBe('drill.datastores.1');
    expect(p.message).toBe('`sesions` is not defined under `datastores`');
    expect(p.hint).toBe('did you mean `sessions`?');
  });

  it('refuses a DR target for an unknown data store, suggesting the close one', () => {
    const p = problem(
      HEAD + STORES + 'drill:\n  targets:\n    order: postgres://dr@dr-db/orders\n',
    );
    expect(p.code).toBe('SHIP_SPEC_UNKNOWN_REFERENCE');
    expect(p.path).toBe('drill.targets.order');
    expect(p.hint).toBe('did you mean `orders`?');
  });

  it('refuses a literal password in a DR target and shows how to reference it', () => {
    const p = problem(
      HEAD +
        STORES +
        'drill:\n  targets:\n    orders: postgres://dr:hunter2-literal@dr-db/orders\n',
    );
    expect(p.code).toBe('SHIP_SPEC_LITERAL_SECRET');
    expect(p.path).toBe('drill.targets.orders');
    expect(p.message).toContain('the DR target contains a literal password');
    expect(p.message).not.toContain('hunter2-literal');
    expect(p.hint).toMatch(/\$\{env:[A-Z_]+\}/);
  });

  it('accepts a DR target password by reference', () => {
    const spec = load(
      HEAD + STORES + 'drill:\n  targets:\n    orders: postgres://dr:${env:DR_PW}@dr-db/orders\n',
    );
    expect(spec.drill?.targets.orders).toBe('postgres://dr:${env:DR_PW}@dr-db/orders');
  });

  it('refuses an unknown drill.environment, suggesting the close one', () => {
    const p = problem(HEAD + STORES + 'drill:\n  environment: prodution\n');
    expect(p.code).toBe('SHIP_SPEC_UNKNOWN_REFERENCE');
    expect(p.path).toBe('drill.environment');
    expect(p.message).toBe('`prodution` is not defined under `environments`');
    expect(p.hint).toBe('did you mean `production`?');
  });

  it('refuses an unknown key and a bad HTTP check request', () => {
    const unknown = problem(HEAD + STORES + 'drill:\n  targetz: {}\n');
    expect(unknown.code).toBe('SHIP_SPEC_UNKNOWN_KEY');
    const bad = problems(
      HEAD +
        STORES +
        'drill:\n  service:\n    command: node s.mjs\n    checks:\n      - { name: x, request: FETCH /orders }\n',
    );
    expect(bad[0]?.path).toBe('drill.service.checks.0.request');
  });
});
