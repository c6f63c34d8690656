import { ShipError } from '../core/index.js';
import { DATASTORE_KINDS, type DatastoreKind } from '../spec/index.js';

import { commandDriver } from './command.js';
import type { Driver } from './driver.js';
import { DatastoreErrorCode } from './errors.js';
import { filesDriver } from './files.js';
import { mariadbDriver, mysqlDriver } from './mariadb.js';
import { postgresDriver } from './postgres.js';
import { redisDriver } from './redis.js';
import { sqliteDriver } from './sqlite.js';

/**
 * Every data-store driver, by kind: one for each kind the spec accepts (the type makes a
 * missing one a compile error).
 */
export const DRIVERS: { readonly [K in DatastoreKind]: Driver & { kind: K } } = {
  postgres: postgresDriver as Driver & { kind: 'postgres' },
  sqlite: sqliteDriver as Driver & { kind: 'sqlite' },
  files: filesDriver as Driver & { kind: 'files' },
  command: commandDriver as Driver & { kind: 'command' },
  mariadb: mariadbDriver as Driver & { kind: 'mariadb' },
  mysql: mysqlDriver as Driver & { kind: 'mysql' },
  redis: redisDriver as Driver & { kind: 'redis' },
};

/** Kinds that have a driver in this build. */
export function supportedKinds(): DatastoreKind[] {
  return DATASTORE_KINDS.filter((kind) => kind in DRIVERS);
}

/**
 * The driver for `kind`; `SHIP_DATASTORE_NO_DRIVER` (exit 2) for a kind this build does not
 * know (a value that bypassed the spec's schema).
 */
export function driverFor(kind: DatastoreKind): Driver {
  const driver = (DRIVERS as Partial<Record<string, Driver>>)[kind];
  if (driver === undefined) {
    throw ShipError.usage(
      DatastoreErrorCode.noDriver,
      `no driver for data stores of kind ${kind} in this version`,
      {
        details: { kind, supported: supportedKinds() },
        hint: `supported kinds: ${supportedKinds().join(', ')}; a \`command\` data store can back up anything with your own commands`,
      },
    );
  }
  return driver;
}
