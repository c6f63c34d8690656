import { describe, expect, it } from 'vitest';

import { ShipError } from '../core/index.js';
import { parseSpec, type Spec } from '../spec/index.js';

import { drillDatastores, drillEnvironment, drillTarget, redactConnection } from './plan.js';
import { isDrillId, newDrillId } from './run-id.js';

function spec(body: string): Spec {
  const text =
    'version: 1\nservice:\n  name: shop\nenvironments:\n  production: {}\n  staging: {}\n  dev: {}\n' +
    'repositories:\n  local:\n    url: ./repo\n    key: ${env:KEY}\n' +
    body;
  return parseSpec(text, '/srv/shop/shipshape.yaml').spec;
}

function failure(fn: () => unknown): ShipError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

const stores =
  'datastores:\n' +
  '  orders:\n    kind: postgres\n    connection:\n      production: postgres://app@db:5432/orders\n      staging: postgres://app@stage-db/orders\n    repository: local\n' +
  '  catalog:\n    kind: sqlite\n    connection:\n      staging: data/catalog.db\n    repository: local\n' +
  '  hooks:\n    kind: command\n    connection:\n      production: /srv/hooks\n    repository: local\n' +
  '    command:\n      backup: cat x\n      restore: cat > x\n';

describe('newDrillId', () => {
  it('is the compact UTC time and 6 hex characters, and sorts by time', () => {
    const id = newDrillId(new Date('2026-11-22T13:05:00.789Z'));
    expect(id).toMatch(/^20261122T130500Z-[0-9a-f]{6}$/);
    expect(isDrillId(id)).toBe(true);
    expect(newDrillId(new Date('2026-11-22T13:05:01Z')) > id).toBe(true);
  });

  it('differs between two ids of the same second', () => {
    const now = new Date('2026-11-22T13:05:00Z');
    const ids = new Set(Array.from({ length: 20 }, () => newDrillId(now)));
    expect(ids.size).toBeGreaterThan(1);
  });

  it('rejects other text', () => {
    for (const text of [
      '',
      '20261122T130500Z',
      '20261122T130500Z-3FA4C2',
      '../etc-3fa4c2',
      '2026-11-22T13:05:00Z-3fa4c2',
    ]) {
      expect(isDrillId(text)).toBe(false);
    }
  });
});

describe('drillEnvironment', () => {
  it('prefers the option, then drill.environment, then production', () => {
    const s = spec(stores + 'drill:\n  environment: staging\n');
    expect(drillEnvironment(s, 'production')).toBe('production');
    expect(drillEnvironment(s)).toBe('staging');
    expect(drillEnvironment(spec(stores))).toBe('production');
  });

  it('takes the only environment with connections', () => {
    const s = spec(
      'datastores:\n  catalog:\n    kind: sqlite\n    connection:\n      staging: data/catalog.db\n    repository: local\n',
    );
    expect(drillEnvironment(s)).toBe('staging');
  });

  it('asks which one when several have connections and none is production', () => {
    const s = spec(
      'datastores:\n  catalog:\n    kind: sqlite\n    connection:\n      staging: a.db\n      dev: b.db\n    repository: local\n',
    );
    const error = failure(() => drillEnvironment(s));
    expect(error.code).toBe('SHIP_DRILL_ENVIRONMENT_REQUIRED');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('staging, dev');
    expect(error.hint).toContain('drill.environment');
  });

  it('refuses an unknown environment with a suggestion', () => {
    const error = failure(() => drillEnvironment(spec(stores), 'prodution'));
    expect(error.code).toBe('SHIP_DRILL_UNKNOWN_ENVIRONMENT');
    expect(error.hint).toBe('did you mean production?');
  });

  it('refuses a spec without connections', () => {
    expect(failure(() => drillEnvironment(spec(''))).code).toBe('SHIP_DRILL_NOTHING_TO_DRILL');
  });
});

describe('drillDatastores', () => {
  const withTarget = spec(stores + 'drill:\n  targets:\n    hooks: /srv/dr-hooks\n');

  it('defaults to every data store with a connection in the environment', () => {
    expect(drillDatastores(withTarget, 'production')).toEqual(['orders', 'hooks']);
    expect(drillDatastores(withTarget, 'staging')).toEqual(['orders', 'catalog']);
  });

  it('takes the option over drill.datastores, without duplicates', () => {
    const s = spec(stores + 'drill:\n  datastores: [catalog]\n');
    expect(drillDatastores(s, 'staging')).toEqual(['catalog']);
    expect(drillDatastores(s, 'staging', ['orders', 'orders'])).toEqual(['orders']);
  });

  it('refuses an unknown data store with a suggestion', () => {
    const error = failure(() => drillDatastores(withTarget, 'production', ['order']));
    expect(error.code).toBe('SHIP_SPEC_UNKNOWN_REFERENCE');
    expect(error.hint).toBe('did you mean orders?');
  });

  it('refuses a data store without a connection in the environment', () => {
    const error = failure(() => drillDatastores(withTarget, 'production', ['catalog']));
    expect(error.code).toBe('SHIP_DATASTORE_NO_CONNECTION');
    expect(error.message).toContain('catalog');
    expect(error.hint).toContain('datastores.catalog.connection.production');
  });

  it('refuses a command store without a DR target', () => {
    const error = failure(() => drillDatastores(spec(stores), 'production'));
    expect(error.code).toBe('SHIP_DRILL_NO_SANDBOX');
    expect(error.exitCode).toBe(2);
    expect(error.hint).toContain('drill.targets.hooks');
  });

  it('refuses an environment where nothing has a connection', () => {
    expect(failure(() => drillDatastores(withTarget, 'dev')).code).toBe(
      'SHIP_DRILL_NOTHING_TO_DRILL',
    );
  });
});

describe('drillTarget', () => {
  const s = spec(stores);
  const ctx = { baseDir: '/srv/shop', env: { DR_PW: 's3cret-dr-password' } };

  it('resolves references and relative paths against the spec directory', () => {
    const catalog = s.datastores.catalog!;
    expect(drillTarget('catalog', catalog, 'dr/catalog.db', ctx, 'staging').connection).toBe(
      '/srv/shop/dr/catalog.db',
    );
    const orders = s.datastores.orders!;
    const target = drillTarget(
      'orders',
      orders,
      'postgres://dr:${env:DR_PW}@dr-db/orders',
      ctx,
      'production',
    );
    expect(target.connection).toBe('postgres://dr:s3cret-dr-password@dr-db/orders');
    expect(redactConnection(target.connection)).not.toContain('s3cret-dr-password');
  });

  it('keeps the command section of a command store', () => {
    const target = drillTarget('hooks', s.datastores.hooks!, '/srv/dr', ctx, 'production');
    expect(target.command?.backup).toBe('cat x');
  });

  it('refuses an empty target and an unset reference', () => {
    expect(
      failure(() => drillTarget('orders', s.datastores.orders!, ' ', ctx, 'production')).code,
    ).toBe('SHIP_DRILL_BAD_TARGET');
    const unset = failure(() =>
      drillTarget('orders', s.datastores.orders!, '${env:NOPE_UNSET}', ctx, 'production'),
    );
    expect(unset.code).toBe('SHIP_SECRET_UNSET');
    expect(unset.message).toContain('drill.targets.orders');
  });
});

describe('redactConnection', () => {
  it('masks a URL password even when it was never registered', () => {
    expect(redactConnection('postgres://u:literal-pw@h/db')).not.toContain('literal-pw');
    expect(redactConnection('/srv/data.db')).toBe('/srv/data.db');
  });
});
