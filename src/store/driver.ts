import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';

/** What a dialect adds to Kysely's own driver: error translation and, optionally, its BEGIN. */
export interface DriverHooks {
  /** Turns a driver error into a ShipError where it is one a user must act on; else returns it. */
  mapError: (error: unknown) => unknown;
  /** Runs before a connection is taken from the pool (the store's misuse guard). */
  beforeAcquire?: () => void;
  /** Replaces the driver's `begin` (SQLite: `BEGIN IMMEDIATE`, waited for without blocking). */
  begin?: (connection: DatabaseConnection, settings: TransactionSettings) => Promise<void>;
  /** Replaces the driver's `rollback`. */
  rollback?: (connection: DatabaseConnection) => Promise<void>;
}

/**
 * Wraps a Kysely dialect so that every error the driver raises (connecting, querying,
 * committing) passes through `hooks.mapError`, and transactions begin with `hooks.begin`.
 * Services thus get `SHIP_STORE_*` errors from plain Kysely calls, not driver internals.
 */
export function guardDialect(inner: Dialect, hooks: DriverHooks): Dialect {
  return {
    createDriver: () => new GuardedDriver(inner.createDriver(), hooks),
    createQueryCompiler: (): QueryCompiler => inner.createQueryCompiler(),
    createAdapter: (): DialectAdapter => inner.createAdapter(),
    createIntrospector: (db: Kysely<unknown>): DatabaseIntrospector => inner.createIntrospector(db),
  };
}

class GuardedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly hooks: DriverHooks,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(compiledQuery);
    } catch (error) {
      throw this.hooks.mapError(error);
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (error) {
      throw this.hooks.mapError(error);
    }
  }
}

function unsupported(method: string): Error {
  return new Error(`the store's driver does not implement ${method}`);
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof GuardedConnection ? connection.inner : connection;
}

class GuardedDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly hooks: DriverHooks,
  ) {}

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.hooks.mapError(error);
    }
  }

  init(): Promise<void> {
    return this.#guard(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.hooks.beforeAcquire?.();
    const connection = await this.#guard(() => this.inner.acquireConnection());
    return new GuardedConnection(connection, this.hooks);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const raw = unwrap(connection);
    return this.#guard(() =>
      this.hooks.begin
        ? this.hooks.begin(raw, settings)
        : this.inner.beginTransaction(raw, settings),
    );
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.inner.commitTransaction(unwrap(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const raw = unwrap(connection);
    return this.#guard(() =>
      this.hooks.rollback ? this.hooks.rollback(raw) : this.inner.rollbackTransaction(raw),
    );
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const inner = this.inner;
    await this.#guard(async () => {
      if (!inner.savepoint) throw unsupported('savepoint');
      await inner.savepoint(unwrap(connection), name, compileQuery);
    });
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const inner = this.inner;
    await this.#guard(async () => {
      if (!inner.rollbackToSavepoint) throw unsupported('rollbackToSavepoint');
      await inner.rollbackToSavepoint(unwrap(connection), name, compileQuery);
    });
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const inner = this.inner;
    await this.#guard(async () => {
      if (!inner.releaseSavepoint) throw unsupported('releaseSavepoint');
      await inner.releaseSavepoint(unwrap(connection), name, compileQuery);
    });
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
