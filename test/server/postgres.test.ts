import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, type ThrowawayDatabase } from '../helpers/services.js';
import { parseExposition, samplesOf } from './exposition.js';
import { createFixture, gateResult, type Fixture } from './fixture.js';

/** Smoke test of the API on the real PostgreSQL state store (scripts/services.sh). */
describe('HTTP API on PostgreSQL', () => {
  let database: ThrowawayDatabase;
  let f: Fixture;
  let ci: string;
  let name: string;

  async function admin(sql: string): Promise<void> {
    const url = new URL(database.url);
    url.pathname = '/shipshape';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    database = await createPostgresDatabase('server');
    name = new URL(database.url).pathname.slice(1);
    f = await createFixture({ env: { SHIPSHAPE_DATABASE_URL: database.url } });
    ci = await f.token('ci');
  });
  afterAll(async () => {
    await f.close();
    await database.drop();
  });

  it('uses PostgreSQL', async () => {
    expect((await f.workspace.store()).dialect).toBe('postgres');
  });

  it('appends as the token’s person, reads, verifies and scrapes', async () => {
    const res = await f.request('/v1/ledger/records', {
      method: 'POST',
      token: ci,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'gate-result',
        subject: 'datastore:orders',
        body: gateResult('backup', 'passed'),
      }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { actor: { person: string } }).actor.person).toBe('ci');

    const list = await f.request('/v1/ledger/records?gate=backup', { token: ci });
    expect(((await list.json()) as { records: unknown[] }).records).toHaveLength(1);
    const verify = await f.request('/v1/ledger/verify', { token: ci });
    expect(((await verify.json()) as { ok: boolean }).ok).toBe(true);

    const m = parseExposition(await (await f.request('/metrics')).text());
    expect(
      samplesOf(m, 'shipshape_backup_last_success_timestamp_seconds', { datastore: 'orders' }),
    ).toHaveLength(1);
  });

  it('answers /readyz 503 while the database refuses connections, and 200 once it is back', async () => {
    expect((await f.request('/readyz')).status).toBe(200);
    await admin(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
    );
    try {
      const down = await f.request('/readyz');
      expect(down.status).toBe(503);
      expect(((await down.json()) as { error: { code: string } }).error.code).toBe(
        'SHIP_SERVER_NOT_READY',
      );
      // An API call fails too. 503 needs the store to map SQLSTATE 55000 ("not currently
      // accepting connections") to SHIP_STORE_UNREACHABLE; until it does this is a 500.
      const api = await f.request('/v1/ledger/count', { token: ci });
      expect(api.status).toBeGreaterThanOrEqual(500);
      expect(['SHIP_STORE_UNREACHABLE', 'SHIP_INTERNAL']).toContain(
        ((await api.json()) as { error: { code: string } }).error.code,
      );
    } finally {
      await admin(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    }
    expect((await f.request('/readyz')).status).toBe(200);
  });
});
