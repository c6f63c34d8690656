/**
 * `assertIsolated` against real servers: a DR target that is a production store spelled
 * differently is refused without connecting; one on the production PostgreSQL cluster (another
 * database) is refused by the server identity a backup recorded; a separate server is accepted.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ShipError } from '../../src/core/index.js';
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

import { drillWorkspace, type DrillWorkspace } from './drill-workspace.js';

async function rejection(promise: Promise<unknown>): Promise<ShipError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

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

  beforeAll(async () => {
    orders = await createPostgresDatabase('drill_iso_prod');
    sameCluster = await createPostgresDatabase('drill_iso_dr');
    const client = new pg.Client({ connectionString: orders.url });
    await client.connect();
    await client.query('CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1)');
    await client.end();
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
    const error = await rejection(
      assertIsolated(withTarget('orders', 'postgresql://drill@127.0.0.1:5432/ghost'), {
        ...context,
        recordedIdentities: identities,
      }),
    );
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('production data store ghost (environment production)');
    expect(error.message).toContain('same host:port/database localhost:5432/ghost');
    expect(error.hint).toContain('drill.targets.orders');
  });

  it('refuses another database on the production cluster: same system identifier', async () => {
    const error = await rejection(
      assertIsolated(withTarget('orders', sameCluster.url), {
        ...context,
        recordedIdentities: identities,
      }),
    );
    expect(error.code).toBe('SHIP_DRILL_TARGET_IS_PRODUCTION');
    expect(error.message).toContain('DR target of orders');
    expect(error.message).toContain('production data store orders (environment production)');
    expect(error.message).toMatch(/same postgres-system-identifier \d+ as its backups recorded/);
  });

  it('accepts that target when no backup recorded the cluster (nothing to compare with)', async () => {
    await expect(
      assertIsolated(withTarget('orders', sameCluster.url), {
        ...context,
        recordedIdentities: new Map(),
      }),
    ).resolves.toBeUndefined();
  });

  it('accepts a genuinely separate server', async () => {
    sandbox = await withDatastoreRepository('orders', context, async (repo) =>
      postgresDriver.sandbox(
        await repositoryReader(repo, prepared.plan.datastores[0]!.snapshot.id, {
          source: 'orders',
        }),
      ),
    );
    await expect(
      assertIsolated(withTarget('orders', sandbox.target.connection), {
        ...context,
        recordedIdentities: identities,
      }),
    ).resolves.toBeUndefined();
  });

  it('fails with a runtime error naming the target when its identity cannot be read', async () => {
    const error = await rejection(
      assertIsolated(withTarget('orders', 'postgres://drill@127.0.0.1:1/dr'), {
        ...context,
        recordedIdentities: identities,
      }),
    );
    expect(error.code).toBe('SHIP_DRILL_TARGET_UNREACHABLE');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('DR target of orders');
    expect(error.message).toContain('127.0.0.1:1/dr');
  });
});
