import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { createPostgresDatabase, postgresUrl } from '../helpers/services.js';
import { CANARY_PASSWORD, describeStoreConformance } from './conformance.js';

/** The SQL block that follows `<!-- sql:NAME -->` in docs/operations.md, as statements. */
async function docsSql(name: string, rename: Record<string, string>): Promise<string[]> {
  const doc = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const match = new RegExp(`<!-- sql:${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!match) throw new Error(`docs/operations.md has no sql:${name} block`);
  let text = match[1]!;
  for (const [from, to] of Object.entries(rename)) {
    text = text.replace(new RegExp(`\\b${from}\\b`, 'g'), to);
  }
  return text
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}

async function runAs(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // One at a time: CREATE DATABASE cannot run inside the implicit transaction of a batch.
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

function urlFor(user: string, database: string): string {
  const url = new URL(postgresUrl());
  url.username = user;
  url.pathname = `/${database}`;
  return url.toString();
}

describeStoreConformance({
  dialect: 'postgres',
  async fresh() {
    const db = await createPostgresDatabase('store');
    return { location: { dialect: 'postgres', url: db.url }, cleanup: db.drop };
  },
  unreachable() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    return Promise.resolve({
      location: {
        dialect: 'postgres',
        url: `postgres://shipshape:${CANARY_PASSWORD}@127.0.0.1:1/shipshape`,
      },
      cleanup: () => Promise.resolve(),
    });
  },
  corrupt: {
    skip: 'a PostgreSQL server checks its own files; a client cannot be handed a corrupt database',
  },
});

describe('postgres store specifics', () => {
  it('does not block writers holding a different lock name', async () => {
    const db = await createPostgresDatabase('locks');
    const a = await openStore({ dialect: 'postgres', url: db.url });
    try {
      let releaseA: () => void = () => undefined;
      const aMayFinish = new Promise<void>((resolve) => (releaseA = resolve));
      let aHolding: () => void = () => undefined;
      const aHolds = new Promise<void>((resolve) => (aHolding = resolve));
      const first = a.exclusive('lock-a', async () => {
        aHolding();
        await aMayFinish;
        return 'a';
      });
      await aHolds;
      // Completes while lock-a is still held; would hang (and time out) if it were blocked.
      const second = await a.exclusive('lock-b', () => Promise.resolve('b'));
      releaseA();
      expect([await first, second]).toEqual(['a', 'b']);
    } finally {
      await a.close();
      await db.drop();
    }
  });

  it('reports a missing database as unreachable, naming it', async () => {
    const url = new URL(postgresUrl());
    url.pathname = '/shipshape_no_such_database';
    await expect(openStore({ dialect: 'postgres', url: url.toString() })).rejects.toMatchObject({
      code: 'SHIP_STORE_UNREACHABLE',
      message: expect.stringContaining('shipshape_no_such_database') as unknown,
    });
  });
});

describe('least-privilege roles from docs/operations.md', () => {
  it('lets the owner migrate and the app role append but never rewrite the ledger', async () => {
    const suffix = randomBytes(4).toString('hex');
    const names = {
      shipshape_state: `t_state_${suffix}`,
      shipshape_owner: `t_owner_${suffix}`,
      shipshape_app: `t_app_${suffix}`,
    };
    const superuser = postgresUrl();
    const stores: Store[] = [];
    try {
      await runAs(superuser, await docsSql('least-privilege-cluster', names));
      await runAs(
        urlFor(new URL(superuser).username, names.shipshape_state),
        await docsSql('least-privilege-database', names),
      );

      const owner = await openStore({
        dialect: 'postgres',
        url: urlFor(names.shipshape_owner, names.shipshape_state),
      });
      stores.push(owner);
      expect((await owner.migrate()).applied).not.toEqual([]);
      await runAs(
        urlFor(names.shipshape_owner, names.shipshape_state),
        await docsSql('least-privilege-after-migrate', names),
      );

      const app = await openStore({
        dialect: 'postgres',
        url: urlFor(names.shipshape_app, names.shipshape_state),
      });
      stores.push(app);
      expect((await app.migrate()).applied).toEqual([]);
      await app.exclusive('ledger', async (trx) => {
        await trx
          .insertInto('ledger_records')
          .values({
            seq: 1,
            id: 'r1',
            kind: 'event',
            gate: null,
            event_type: 'note',
            subject: 's',
            actor: '{}',
            recorded_at: '2025-01-01T00:00:00.000Z',
            body: '{}',
            prev_hash: 'p',
            hash: 'h1',
          })
          .execute();
      });
      expect(await app.db.selectFrom('ledger_records').select('id').execute()).toEqual([
        { id: 'r1' },
      ]);

      const denied = { code: 'SHIP_STORE_PERMISSION_DENIED', exitCode: 3 };
      await expect(
        app.db.updateTable('ledger_records').set({ body: '{"edited":true}' }).execute(),
      ).rejects.toMatchObject(denied);
      await expect(app.db.deleteFrom('ledger_records').execute()).rejects.toMatchObject(denied);
      await expect(app.db.deleteFrom('shipshape_migrations').execute()).rejects.toMatchObject(
        denied,
      );

      // A pending migration (simulated by the owner forgetting one) is the owner's job.
      await owner.db.deleteFrom('shipshape_migrations').execute();
      await expect(app.migrate()).rejects.toMatchObject({
        ...denied,
        message: expect.stringContaining('permission denied') as unknown,
        hint: expect.stringContaining('shipshape store migrate') as unknown,
      });
    } finally {
      for (const store of stores) await store.close();
      await runAs(superuser, [
        `DROP DATABASE IF EXISTS "${names.shipshape_state}" WITH (FORCE)`,
        `DROP ROLE IF EXISTS "${names.shipshape_app}"`,
        `DROP ROLE IF EXISTS "${names.shipshape_owner}"`,
      ]);
    }
  });
});
