/**
 * `prepareDrill` against a real repository: backups of a sqlite and a files store, then plans
 * that pick the newest snapshot, an older one with `at`, and none before the first backup.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isDrillId, prepareDrill, type DrillContext } from '../../src/drill/index.js';

import { drillWorkspace, rejection, type DrillWorkspace } from './drill-workspace.js';

const SPEC =
  'datastores:\n' +
  '  shop-db:\n    kind: sqlite\n    connection:\n      production: data/shop.db\n      staging: data/staging.db\n' +
  '    repository: local\n    fingerprint: full\n    objectives:\n      rto: 15m\n      rpo: 6h\n' +
  '    integrity:\n      checks:\n        - { name: has-orders, sql: SELECT count(*) FROM orders, min: 1 }\n' +
  '        - { name: no-negative, sql: SELECT count(*) FROM orders WHERE amount < 0, equals: 0 }\n' +
  '  uploads:\n    kind: files\n    connection:\n      production: data/uploads\n    repository: local\n' +
  '    objectives:\n      rto: 10m\n      rpo: 1d\n' +
  'drill:\n  targets:\n    uploads: dr/uploads\n  objectives:\n    rpo: 1h\n' +
  '  service:\n    command: node server.mjs\n    cwd: service\n    health: /readyz\n' +
  '    checks:\n      - { name: ping, request: GET /ping }\n';

describe('prepareDrill with real backups', () => {
  let ws: DrillWorkspace;
  let context: DrillContext;
  let first: { shop: string; shopAt: string; uploads: string; digest: string };
  let second: { shop: string; shopAt: string };

  beforeAll(async () => {
    ws = await drillWorkspace('drill-plan', SPEC);
    context = { spec: ws.workspace.spec, baseDir: ws.dir, env: ws.env };
    const db = new Database(join(ws.dir, 'data', 'shop.db'));
    db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER)');
    db.exec('INSERT INTO orders (amount) VALUES (100), (250)');
    await mkdir(join(ws.dir, 'data', 'uploads'), { recursive: true });
    await writeFile(join(ws.dir, 'data', 'uploads', 'a.txt'), 'hello');
    const shop1 = await ws.backup('shop-db');
    const uploads1 = await ws.backup('uploads');
    first = {
      shop: shop1.outcome.snapshot.snapshotId,
      shopAt: shop1.outcome.consistentPoint.sourceTime!,
      uploads: uploads1.outcome.snapshot.snapshotId,
      digest: shop1.outcome.fingerprint!.digest,
    };
    db.exec('INSERT INTO orders (amount) VALUES (7)');
    db.close();
    const shop2 = await ws.backup('shop-db');
    second = {
      shop: shop2.outcome.snapshot.snapshotId,
      shopAt: shop2.outcome.consistentPoint.sourceTime!,
    };
    expect(Date.parse(second.shopAt)).toBeGreaterThan(Date.parse(first.shopAt));
  });

  afterAll(async () => {
    await ws.close();
  });

  it('plans the newest snapshot of each store, with placement, RPO, objectives and service', async () => {
    const now = new Date(Date.parse(second.shopAt) + 90_000);
    const { plan, datastores, service } = await prepareDrill(context, { now });
    expect(isDrillId(plan.id)).toBe(true);
    expect(plan).toMatchObject({
      serviceName: 'shop',
      environment: 'production',
      declaredAt: now.toISOString(),
      disasterAt: now.toISOString(),
      simulated: false,
      keep: false,
      objectives: {
        rtoMs: 600_000,
        rtoFrom: 'datastores.uploads.objectives',
        rpoMs: 3_600_000,
        rpoFrom: 'drill.objectives',
      },
      service: {
        command: 'node server.mjs',
        cwd: join(ws.dir, 'service'),
        health: '/readyz',
        checks: ['ping'],
      },
    });
    expect(service?.cwd).toBe(join(ws.dir, 'service'));
    expect(plan.datastores.map((d) => [d.name, d.snapshot.id])).toEqual([
      ['shop-db', second.shop],
      ['uploads', first.uploads],
    ]);
    const shop = plan.datastores[0]!;
    expect(shop).toMatchObject({
      kind: 'sqlite',
      repository: 'local',
      placement: { kind: 'sandbox' },
      checks: ['has-orders', 'no-negative'],
      objectives: { rtoMs: 900_000, rpoMs: 21_600_000 },
      rpoMs: 90_000,
    });
    expect(shop.snapshot.consistentAt).toBe(second.shopAt);
    expect(shop.snapshot.consistentPoint?.kind).toBeTruthy();
    expect(shop.snapshot.bytes).toBeGreaterThan(0);
    expect(shop.snapshot.fingerprint?.mode).toBe('full');
    expect(shop.snapshot.toolVersions).not.toEqual({});
    expect(shop.snapshot.host).not.toBe('');
    const uploads = plan.datastores[1]!;
    expect(uploads.placement).toEqual({ kind: 'target', target: join(ws.dir, 'dr/uploads') });
    expect(datastores[1]?.target?.connection).toBe(join(ws.dir, 'dr/uploads'));
    expect(datastores[0]?.target).toBeUndefined();
    // The plan is plain data: it survives JSON unchanged.
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('with `at`, plans the newest snapshot consistent at or before it', async () => {
    const at = new Date(first.shopAt);
    const { plan } = await prepareDrill(context, { at, datastores: ['shop-db'], keep: true });
    expect(plan.simulated).toBe(true);
    expect(plan.keep).toBe(true);
    expect(plan.disasterAt).toBe(first.shopAt);
    expect(plan.datastores).toHaveLength(1);
    expect(plan.datastores[0]).toMatchObject({ snapshot: { id: first.shop }, rpoMs: 0 });
    expect(plan.datastores[0]?.snapshot.fingerprint?.digest).toBe(first.digest);
    // Without drill-wide RTO, the smallest RTO of the drilled stores is the objective.
    expect(plan.objectives).toMatchObject({
      rtoMs: 900_000,
      rtoFrom: 'datastores.shop-db.objectives',
    });
  });

  it('allows `at` after now, measuring RPO against it', async () => {
    const now = new Date(second.shopAt);
    const at = new Date(now.getTime() + 3_600_000);
    const { plan } = await prepareDrill(context, { at, now, datastores: ['shop-db'] });
    expect(plan.datastores[0]).toMatchObject({ snapshot: { id: second.shop }, rpoMs: 3_600_000 });
    expect(plan.declaredAt).toBe(now.toISOString());
  });

  it('refuses `at` before every snapshot, naming the store and how to back it up', async () => {
    const error = await rejection(
      prepareDrill(context, { at: new Date('2000-01-01T00:00:00Z'), datastores: ['shop-db'] }),
    );
    expect(error.code).toBe('SHIP_DATASTORE_NO_SNAPSHOT');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('shop-db');
    expect(error.message).toContain('2000-01-01T00:00:00.000Z');
    expect(error.hint).toContain('shipshape backup run shop-db --env production');
  });

  it('only plans snapshots of the drilled environment', async () => {
    const error = await rejection(
      prepareDrill(context, { environment: 'staging', datastores: ['shop-db'] }),
    );
    expect(error.code).toBe('SHIP_DATASTORE_NO_SNAPSHOT');
    expect(error.message).toContain('environment staging');
    expect(error.hint).toContain('shipshape backup run shop-db --env staging');
  });

  it('refuses an unknown data store before reading any repository', async () => {
    const error = await rejection(prepareDrill(context, { datastores: ['shop_db'] }));
    expect(error.code).toBe('SHIP_SPEC_UNKNOWN_REFERENCE');
    expect(error.hint).toBe('did you mean shop-db?');
  });

  it('refuses a ${drill:…} typo in the service environment when planning', async () => {
    const spec = {
      ...context.spec,
      drill: {
        targets: {},
        valid_for: 86_400_000,
        service: {
          command: 'true',
          env: { DB: '${drill:shop_db}' },
          start_timeout: 1000,
          stop_timeout: 1000,
          checks: [],
        },
      },
    };
    const error = await rejection(prepareDrill({ ...context, spec }));
    expect(error.code).toBe('SHIP_DRILL_BAD_REFERENCE');
    expect(error.message).toContain('${drill:shop_db}');
  });
});
