import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import type { LedgerRecord } from '../ledger/index.js';
import { parseSpec, type Spec } from '../spec/index.js';

import {
  assertIsolated,
  normalizeConnection,
  normalizeHost,
  readRecordedIdentities,
  recordedIdentities,
  sameEndpoint,
  type Endpoint,
} from './isolation.js';
import { drillTarget, redactConnection, type PreparedDrill } from './plan.js';
import type { PlannedDatastore } from './types.js';
import { rejection } from '../../test/drill/drill-workspace.js';

describe('normalizeHost', () => {
  it('makes every loopback spelling localhost', () => {
    for (const host of [
      'localhost',
      'LOCALHOST',
      'localhost.',
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '',
    ]) {
      expect(normalizeHost(host), host).toBe('localhost');
    }
  });

  it('lower-cases and drops a trailing dot, keeping other hosts apart', () => {
    expect(normalizeHost('DB.Internal.')).toBe('db.internal');
    expect(normalizeHost('10.0.0.5')).toBe('10.0.0.5');
    expect(normalizeHost('[fe80::1]')).toBe('fe80::1');
    expect(normalizeHost('128.0.0.1')).toBe('128.0.0.1');
  });
});

describe('normalizeConnection', () => {
  const pg = (c: string) => normalizeConnection('postgres', c, '/srv');

  it('reads postgres URLs and key=value strings alike, with the default port', async () => {
    const expected = {
      type: 'server',
      family: 'postgres',
      host: 'localhost',
      port: 5432,
      database: 'orders',
    };
    for (const c of [
      'postgres://app@localhost/orders',
      'postgresql://app:pw@127.0.0.1:5432/orders',
      'postgres://app@[::1]:5432/orders?sslmode=disable',
      'postgres://LOCALHOST./orders',
      'host=localhost port=5432 dbname=orders user=app',
      "host=127.0.0.1 dbname='orders' password=secret",
    ]) {
      expect(await pg(c), c).toEqual(expected);
    }
  });

  it('keeps postgres port and database apart, and compares socket hosts as paths', async () => {
    expect(await pg('postgres://app@db:6543/orders')).toMatchObject({ host: 'db', port: 6543 });
    expect(await pg('postgres://app@db/other')).toMatchObject({ database: 'other' });
    expect(await pg('postgres://app@%2Fvar%2Frun%2Fpostgresql/orders')).toMatchObject({
      host: '/var/run/postgresql',
    });
    expect(await pg('host=/var/run/postgresql/ dbname=orders')).toMatchObject({
      host: '/var/run/postgresql',
      database: 'orders',
    });
    expect(await pg('postgres:///orders?host=/var/run/postgresql')).toMatchObject({
      host: '/var/run/postgresql',
    });
  });

  it('reads mariadb/mysql URLs with the default port 3306', async () => {
    const a = await normalizeConnection('mariadb', 'mysql://app:pw@LocalHost/shop', '/srv');
    const b = await normalizeConnection('mysql', 'mariadb://app@127.0.0.1:3306/shop', '/srv');
    expect(a).toEqual({
      type: 'server',
      family: 'mysql',
      host: 'localhost',
      port: 3306,
      database: 'shop',
    });
    expect(b).toEqual(a);
  });

  it('reads redis URLs with the default port 6379 and ignores the db number', async () => {
    const a = await normalizeConnection('redis', 'redis://:pw@cache.internal./0', '/srv');
    const b = await normalizeConnection('redis', 'redis://Cache.Internal:6379/3', '/srv');
    expect(a).toEqual({ type: 'server', family: 'redis', host: 'cache.internal', port: 6379 });
    expect(b).toEqual(a);
  });

  it('refuses a connection that does not parse', async () => {
    expect((await rejection(normalizeConnection('redis', 'cache:6379', '/srv'))).code).toBe(
      'SHIP_DATASTORE_BAD_CONNECTION',
    );
  });

  describe('paths', () => {
    const root = mkdtempSync(join(tmpdir(), 'shipshape-isolation-'));
    mkdirSync(join(root, 'real', 'data'), { recursive: true });
    writeFileSync(join(root, 'real', 'data', 'shop.db'), '');
    symlinkSync(join(root, 'real'), join(root, 'link'));
    afterAll(() => {
      rmSync(root, { recursive: true, force: true });
    });

    it('resolves relative paths, file: URLs and symbolic links, also for paths not there yet', async () => {
      const real = await normalizeConnection('sqlite', join(root, 'real/data/shop.db'), '/');
      expect(real.type).toBe('path');
      for (const c of [
        'data/shop.db',
        './data/../data/shop.db',
        join(root, 'link/data/shop.db'),
        `file://${join(root, 'link/data/shop.db')}`,
      ]) {
        expect(await normalizeConnection('sqlite', c, join(root, 'link')), c).toEqual(real);
      }
      const fresh = await normalizeConnection('files', join(root, 'link/new/dir'), '/');
      const freshReal = await normalizeConnection('files', join(root, 'real/new/dir'), '/');
      expect(fresh).toEqual(freshReal);
    });
  });
});

describe('sameEndpoint', () => {
  const server = (over: Partial<Extract<Endpoint, { type: 'server' }>>): Endpoint => ({
    type: 'server',
    family: 'postgres',
    host: 'db',
    port: 5432,
    database: 'orders',
    ...over,
  });

  it('says how two endpoints are the same place', () => {
    expect(sameEndpoint(server({}), server({}))).toBe('same host:port/database db:5432/orders');
    expect(
      sameEndpoint(
        server({ family: 'redis', database: undefined }),
        server({ family: 'redis', database: undefined }),
      ),
    ).toBe('same host:port db:5432');
    expect(sameEndpoint({ type: 'path', path: '/a/b' }, { type: 'path', path: '/a/b' })).toBe(
      'same path /a/b',
    );
    expect(sameEndpoint({ type: 'path', path: '/up/dr' }, { type: 'path', path: '/up' })).toContain(
      'inside the production data /up',
    );
    expect(
      sameEndpoint({ type: 'path', path: '/up' }, { type: 'path', path: '/up/x.db' }),
    ).toContain('inside the DR target /up');
    expect(sameEndpoint({ type: 'opaque', value: 'x' }, { type: 'opaque', value: 'x' })).toBe(
      'same connection',
    );
  });

  it('keeps different places apart', () => {
    expect(sameEndpoint(server({}), server({ database: 'other' }))).toBeUndefined();
    expect(sameEndpoint(server({}), server({ port: 5433 }))).toBeUndefined();
    expect(sameEndpoint(server({}), server({ host: 'dr-db' }))).toBeUndefined();
    expect(sameEndpoint(server({}), server({ family: 'mysql' }))).toBeUndefined();
    expect(
      sameEndpoint({ type: 'path', path: '/up2' }, { type: 'path', path: '/up' }),
    ).toBeUndefined();
    expect(sameEndpoint({ type: 'path', path: '/a' }, server({}))).toBeUndefined();
  });
});

function backupRecord(
  seq: number,
  details: Record<string, unknown>,
  gate = 'backup',
): LedgerRecord {
  return {
    seq,
    id: `r${seq}`,
    kind: 'gate-result',
    subject: `datastore:${String(details.datastore)}`,
    actor: { type: 'user', id: 'test' },
    recordedAt: '2026-11-22T12:00:00.000Z',
    body: {
      gate,
      outcome: 'passed',
      startedAt: '2026-11-22T12:00:00.000Z',
      finishedAt: '2026-11-22T12:00:01.000Z',
      details,
    },
    prevHash: '0'.repeat(64),
    hash: '1'.repeat(64),
  } as unknown as LedgerRecord;
}

const identity = (id: string) => ({
  kind: 'postgres-system-identifier',
  id,
  location: 'db:5432/orders',
});

describe('recordedIdentities', () => {
  const records = [
    backupRecord(1, { datastore: 'orders', environment: 'production', identity: identity('111') }),
    backupRecord(2, { datastore: 'orders', environment: 'production', identity: identity('111') }),
    backupRecord(3, { datastore: 'orders', environment: 'staging', identity: identity('222') }),
    backupRecord(4, { datastore: 'cache', error: { code: 'X' } }),
    backupRecord(5, { datastore: 'orders', identity: identity('333') }, 'verify'),
  ];

  it('collects each distinct identity of a data store once, with its environment', () => {
    const found = recordedIdentities(records);
    expect([...found.keys()]).toEqual(['orders']);
    expect(found.get('orders')).toEqual([
      { ...identity('111'), environment: 'production' },
      { ...identity('222'), environment: 'staging' },
    ]);
  });

  it('reads them page by page from a ledger source, per data store', async () => {
    const asked: string[] = [];
    const source = {
      list: (options: { afterSeq?: number; subject?: string; gate?: string }) => {
        asked.push(`${options.subject ?? ''}>${options.afterSeq ?? 0}`);
        return Promise.resolve(
          records.filter(
            (r) =>
              r.subject === options.subject &&
              r.seq > (options.afterSeq ?? 0) &&
              r.kind === 'gate-result' &&
              r.body.gate === options.gate,
          ),
        );
      },
    };
    const found = await readRecordedIdentities(source, ['orders', 'cache']);
    expect(found.get('orders')).toHaveLength(2);
    expect(asked).toEqual(['datastore:orders>0', 'datastore:cache>0']);
  });
});

describe('assertIsolated without connecting', () => {
  const text =
    'version: 1\nservice:\n  name: shop\nenvironments:\n  production: {}\n  staging: {}\n' +
    'repositories:\n  local:\n    url: ./repo\n    key: ${env:KEY}\n' +
    'datastores:\n' +
    // An address nothing listens on (TEST-NET-1): a connection attempt would hang or fail.
    '  orders:\n    kind: postgres\n    connection:\n      production: postgres://app:${env:PROD_PW}@192.0.2.10:5432/orders\n      staging: postgres://app@192.0.2.20/orders\n    repository: local\n' +
    '  cache:\n    kind: redis\n    connection:\n      production: redis://192.0.2.11:6379\n    repository: local\n' +
    '  catalog:\n    kind: sqlite\n    connection:\n      production: data/catalog.db\n    repository: local\n' +
    '  legacy:\n    kind: postgres\n    connection:\n      production: ${env:LEGACY_URL}\n    repository: local\n';
  const spec: Spec = parseSpec(text, '/srv/shop/shipshape.yaml').spec;
  const env = { PROD_PW: 'prod-secret-pw', DR_PW: 'dr-pw' };
  const context = { spec, baseDir: '/srv/shop', env, recordedIdentities: new Map() };

  function prepared(environment: string, targets: Record<string, string>): PreparedDrill {
    return {
      plan: { environment } as PreparedDrill['plan'],
      datastores: Object.entries(targets).map(([name, raw]) => {
        const datastore = spec.datastores[name]!;
        const target = drillTarget(name, datastore, raw, context, environment);
        return {
          planned: {
            name,
            placement: { kind: 'target', target: redactConnection(target.connection) },
          } as PlannedDatastore,
          datastore,
          target,
        };
      }),
    };
  }

  it('refuses the production server spelled differently, naming store, target and match', async () => {
    const error = await rejection(
      assertIsolated(
        prepared('production', {
          orders: 'host=192.0.2.10 dbname=orders user=drill password=${env:DR_PW}',
        }),
        context,
      ),
    );
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('DR target of orders');
    expect(error.message).toContain('production data store orders (environment production)');
    expect(error.message).toContain('same host:port/database 192.0.2.10:5432/orders');
    expect(error.hint).toContain('drill.targets.orders');
    expect(`${error.message} ${error.hint ?? ''}`).not.toContain('dr-pw');
    expect(`${error.message} ${error.hint ?? ''}`).not.toContain('prod-secret-pw');
  });

  it('compares with production also when drilling staging, and with other stores', async () => {
    const error = await rejection(
      assertIsolated(prepared('staging', { orders: 'postgres://x@192.0.2.10./orders' }), context),
    );
    expect(error.message).toContain('orders (environment production)');
    const staging = await rejection(
      assertIsolated(
        prepared('staging', { orders: 'postgres://x@192.0.2.20:5432/orders' }),
        context,
      ),
    );
    expect(staging.message).toContain('orders (environment staging)');
  });

  it('refuses a sqlite target that is the production file', async () => {
    const same = await rejection(
      assertIsolated(prepared('production', { catalog: './data/../data/catalog.db' }), context),
    );
    expect(same.message).toContain('same path /srv/shop/data/catalog.db');
  });

  it('refuses two data stores sharing one DR target', async () => {
    const twice = {
      ...context,
      spec: parseSpec(
        text.replace(
          '  legacy:',
          '  orders2:\n    kind: postgres\n    connection:\n      production: postgres://app@192.0.2.12/o2\n    repository: local\n  legacy:',
        ),
        '/srv/shop/shipshape.yaml',
      ).spec,
    };
    const p = prepared('production', { orders: 'postgres://x@192.0.2.99/dr' });
    const second = {
      planned: {
        name: 'orders2',
        placement: { kind: 'target', target: 'postgres://y@192.0.2.99:5432/dr' },
      } as PlannedDatastore,
      datastore: twice.spec.datastores.orders2!,
      target: drillTarget(
        'orders2',
        twice.spec.datastores.orders2!,
        'postgres://y@192.0.2.99:5432/dr',
        context,
        'production',
      ),
    };
    const error = await rejection(
      assertIsolated({ ...p, datastores: [...p.datastores, second] }, twice),
    );
    expect(error.code).toBe('SHIP_DRILL_TARGET_SHARED');
    expect(error.message).toContain('orders and orders2');
  });

  it('does nothing when every store goes to a sandbox', async () => {
    await expect(assertIsolated(prepared('production', {}), context)).resolves.toBeUndefined();
  });
});
