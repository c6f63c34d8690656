import { ShipError } from '../core/index.js';
import { DATASTORE_KINDS, type DatastoreKind } from '../spec/index.js';

import { commandDriver } from './command.js';
import type { Driver } from './driver.js';
import { DatastoreErrorCode } from './errors.js';
import { filesDriver } from './files.js';
import { postgresDriver } from './postgres.js';
import { sqliteDriver } from './sqlite.js';

/**
 * Every data-store driver, by kind. The spec already accepts mysql, mariadb and redis; their
 * drivers come later, and {@link driverFor} says so clearly until then.
 */
export const DRIVERS: { readonly [K in DatastoreKind]?: Driver & { kind: K } } = {
  postgres: postgresDriver as Driver & { kind: 'postgres' },
  sqlite: sqliteDriver as Driver & { kind: 'sqlite' },
  files: filesDriver as Driver & { kind: 'files' },
  command: commandDriver as Driver & { kind: 'command' },
};

/** Kinds that have a driver in this build. */
export function supportedKinds(): DatastoreKind[] {
  return DATASTORE_KINDS.filter((kind) => DRIVERS[kind] !== undefined);
}

/** The driver for `kind`; `SHIP_DATASTORE_NO_DRIVER` (exit 2) when there is none yet. */
export function driverFor(kind: DatastoreKind): Driver {
  const driver = DRIVERS[kind];
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
