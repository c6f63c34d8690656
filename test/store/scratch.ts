/**
 * A scratch counter for proving that `Store.exclusive` serialises writers. Tables are created by
 * the test (not by migrations) and use raw SQL because they are not part of `Database`.
 */
import { sql } from 'kysely';
import type { Store, StoreDb } from '../../src/store/index.js';

/** Creates the scratch tables with the counter at 0. */
export async function createCounter(store: Store): Promise<void> {
  await store.exclusive('test:counter', async (trx) => {
    await sql`create table scratch_counter (id integer primary key, value integer not null)`.execute(
      trx,
    );
    // `seen` (the value read) is the primary key: two increments that read the same value cannot both commit.
    await sql`create table scratch_log (seen integer primary key, worker integer not null)`.execute(
      trx,
    );
    await sql`insert into scratch_counter (id, value) values (1, 0)`.execute(trx);
  });
}

async function readCounter(db: StoreDb): Promise<number> {
  const { rows } = await sql<{
    value: number;
  }>`select value from scratch_counter where id = 1`.execute(db);
  return rows[0]!.value;
}

/** One read-modify-write under the lock, with a round trip between the read and the write. */
export async function incrementCounter(store: Store, worker: number): Promise<void> {
  await store.exclusive('test:counter', async (trx) => {
    const before = await readCounter(trx);
    await sql`insert into scratch_log (seen, worker) values (${before}, ${worker})`.execute(trx);
    await sql`update scratch_counter set value = ${before + 1} where id = 1`.execute(trx);
  });
}

/** The counter value and every value an increment read, in order. */
export async function counterState(store: Store): Promise<{ value: number; seen: number[] }> {
  const value = await readCounter(store.db);
  const { rows } = await sql<{ seen: number }>`select seen from scratch_log order by seen`.execute(
    store.db,
  );
  return { value, seen: rows.map((row) => row.seen) };
}
