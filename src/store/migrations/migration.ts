import type { Kysely } from 'kysely';

/**
 * One schema change, written once for both dialects with Kysely's schema builder. A migration
 * is frozen once released: it sees an untyped database, not today's `Database` interface.
 */
export interface Migration {
  /** `NNNN_snake_case`; recorded in `shipshape_migrations` and never renamed. */
  readonly name: string;
  /** Runs inside the migration transaction, under the migration lock. */
  up(db: Kysely<unknown>): Promise<void>;
}
