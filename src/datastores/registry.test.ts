import { describe, expect, it } from 'vitest';

import { DATASTORE_KINDS, type DatastoreKind } from '../spec/index.js';

import { DRIVERS, driverFor, supportedKinds } from './registry.js';

describe('driver registry', () => {
  it('registers each driver under its own kind', () => {
    for (const [kind, driver] of Object.entries(DRIVERS)) expect(driver.kind).toBe(kind);
    // Every kind the spec accepts has a driver.
    expect([...supportedKinds()].sort()).toEqual([...DATASTORE_KINDS].sort());
  });

  it('an unknown kind (one that bypassed the schema) is a clear usage error', () => {
    expect(() => driverFor('couchdb' as DatastoreKind)).toThrow(
      expect.objectContaining({
        code: 'SHIP_DATASTORE_NO_DRIVER',
        exitCode: 2,
        message: 'no driver for data stores of kind couchdb in this version',
      }),
    );
    expect(driverFor('redis').kind).toBe('redis');
    expect(driverFor('mysql').kind).toBe('mysql');
    expect(driverFor('sqlite').kind).toBe('sqlite');
  });
});
