/**
 * `assertIsolated` against real servers: a DR target that is a production store spelled
 * differently is refused without connecting; one on the production PostgreSQL cluster (another
 * database) is refused by the server identity a backup recorded; a separate server is accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  postgresDriver,
  repositoryReader,
  withDatastoreRepository,
  type Sandbox,
} from '../../src/datastores/index.js';
import {
  assertIsolated,
  drillTarget,
  prepareDrill,
  readRecordedIdentities,
  type DrillContext,
  type PreparedDrill,
  type RecordedIdentity,
} from '../../src/drill/index.js';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';

import { drillWorkspace, rejection, type DrillWorkspace } from './drill-workspace.js';
import { createSeededPostgres } from './fixtures/drill-servers.js';

describe('assertIsolated against real servers', () => {
  let ws: DrillWorkspace;
  let context: DrillContext;
  let orders: ThrowawayDatabase;
  let sameCluster: ThrowawayDatabase;
  let sandbox: Sandbox | undefined;
  let prepared: PreparedDrill;
  let identities: Map<string, RecordedIdentity[]>;

  /** `prepared` with the DR target of `name` set to `raw` (as `drill.targets.<name>` would). */
  function withTarget(name: string, raw: string): PreparedDrill {
    return {
      ...prepared,
      datastores: prepared.datastores.map((d) =>
        d.planned.name !== name
          ? d
          : { ...d, target: drillTarget(name, d.datastore, raw, context, 'production') },
      ),
    };
  }

  /** `assertIsolated` with the DR target of `orders` at `connection`, against `recorded`. */
  function isolate(connection: string, recorded = identities): Promise<void> {
    return assertIsolated(withTarget('orders', connection), {
      ...context,
      recordedIdentities: recorded,
    });
  }

  beforeAll(async () => {
    orders = await createSeededPostgres(
      'drill_iso_prod',
      'CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1)',
    );
    sameCluster = await createPostgresDatabase('drill_iso_dr');
    ws = await drillWorkspace(
      'drill-isolation',
      'datastores:\n' +
        `  orders:\n    kind: postgres\n    connection:\n      production: ${orders.url}\n    repository: local\n` +
        // Nothing listens on port 5432 of this host in the test setup: connecting would fail.
        '  ghost:\n    kind: postgres\n    connection:\n      production: postgres://app@localhost/ghost\n    repository: local\n',
    );
    context = { spec: ws.workspace.spec, baseDir: ws.dir, env: ws.env };
    await ws.backup('orders');
    prepared = await prepareDrill(context, { datastores: ['orders'] });
    identities = await readRecordedIdentities(await ws.workspace.evidence(), ['orders', 'ghost']);
  });

  afterAll(async () => {
    await sandbox?.stop();
    await ws.close();
    await orders.drop();
    await sameCluster.drop();
  });

  it('reads the identity the backup recorded from the ledger', () => {
    expect(identities.get('orders')).toEqual([
      expect.objectContaining({ kind: 'postgres-system-identifier', environment: 'production' }),
    ]);
    expect(identities.has('ghost')).toBe(false);
  });

  it('refuses a production store spelled differently, without connecting to it', async () => {
    // Were the target contacted, this would be SHIP_DRILL_TARGET_UNREACHABLE (nothing listens).
    const error = await rejection(isolate('postgresql://drill@127.0.0.1:5432/ghost'));
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('production data store ghost (environment production)');
    expect(error.message).toContain('same host:port/database localhost:5432/ghost');
    expect(error.hint).toContain('drill.targets.orders');
  });

  it('refuses another database on the production cluster: same system identifier', async () => {
    const error = await rejection(isolate(sameCluster.url));
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.message).toContain('DR target of orders');
    expect(error.message).toContain('production data store orders (environment production)');
    expect(error.message).toMatch(/same postgres-system-identifier \d+ as its backups recorded/);
  });

  it('accepts that target when no backup recorded the cluster (nothing to compare with)', async () => {
    await expect(isolate(sameCluster.url, new Map())).resolves.toBeUndefined();
  });

  it('accepts a genuinely separate server', async () => {
    sandbox = await withDatastoreRepository('orders', context, async (repo) =>
      postgresDriver.sandbox(
        await repositoryReader(repo, prepared.plan.datastores[0]!.snapshot.id, {
          source: 'orders',
        }),
      ),
    );
    await expect(isolate(sandbox.target.connection)).resolves.toBeUndefined();
  });

  it('fails with a runtime error naming the target when its identity cannot be read', async () => {
    const error = await rejection(isolate('postgres://drill@127.0.0.1:1/dr'));
    expect(error.code).toBe('SHIP_DRILL_TARGET_UNREACHABLE');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('DR target of orders');
    expect(error.message).toContain('127.0.0.1:1/dr');
  });
});
