import { describe, expect, it } from 'vitest';

import { DATASTORE_KINDS } from '../spec/index.js';

import { DRIVERS, driverFor, supportedKinds } from './registry.js';

describe('driver registry', () => {
  it('registers each driver under its own kind', () => {
    for (const [kind, driver] of Object.entries(DRIVERS)) expect(driver.kind).toBe(kind);
    expect(supportedKinds()).toEqual(['postgres', 'sqlite', 'files', 'command']);
    expect(supportedKinds().every((kind) => DATASTORE_KINDS.includes(kind))).toBe(true);
  });

  it('a kind without a driver yet is a clear usage error', () => {
    expect(() => driverFor('redis')).toThrow(
      expect.objectContaining({
        code: 'SHIP_DATASTORE_NO_DRIVER',
        exitCode: 2,
        message: 'no driver for data stores of kind redis in this version',
      }),
    );
    expect(driverFor('sqlite').kind).toBe('sqlite');
  });
});
