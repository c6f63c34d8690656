import { describe, expect, it } from 'vitest';
import { isShipError } from '../core/index.js';
import { describeLocation, storeLocation } from './open.js';

describe('storeLocation', () => {
  it('defaults to .shipshape/state.db in the workspace', () => {
    expect(storeLocation('/srv/app', {})).toEqual({
      dialect: 'sqlite',
      path: '/srv/app/.shipshape/state.db',
    });
  });

  it('resolves a relative workspace against the working directory', () => {
    const location = storeLocation('app', {});
    expect(location).toEqual({
      dialect: 'sqlite',
      path: `${process.cwd()}/app/.shipshape/state.db`,
    });
  });

  it('uses PostgreSQL when SHIPSHAPE_DATABASE_URL is set', () => {
    for (const url of ['postgres://ship@db:5432/ship', 'postgresql://ship@db/ship']) {
      expect(storeLocation('/srv/app', { SHIPSHAPE_DATABASE_URL: url })).toEqual({
        dialect: 'postgres',
        url,
      });
    }
  });

  it('ignores an empty SHIPSHAPE_DATABASE_URL', () => {
    expect(storeLocation('/srv/app', { SHIPSHAPE_DATABASE_URL: '  ' }).dialect).toBe('sqlite');
  });

  it('rejects a URL that is not PostgreSQL, with the password redacted', () => {
    let thrown: unknown;
    try {
      storeLocation('/srv/app', { SHIPSHAPE_DATABASE_URL: 'mysql://u:sup3r-secret@db/ship' });
    } catch (error) {
      thrown = error;
    }
    expect(isShipError(thrown)).toBe(true);
    if (!isShipError(thrown)) return;
    expect(thrown.code).toBe('SHIP_STORE_BAD_URL');
    expect(thrown.exitCode).toBe(2);
    expect(thrown.message).toContain('mysql://u:[REDACTED]@db/ship');
    expect(JSON.stringify(thrown.toJSON())).not.toContain('sup3r-secret');
  });
});

describe('describeLocation', () => {
  it('shows PostgreSQL URLs without their password', () => {
    expect(
      describeLocation({ dialect: 'postgres', url: 'postgres://ship:p%40ss-word@db:5432/ship' }),
    ).toBe('postgres://ship:[REDACTED]@db:5432/ship');
    expect(describeLocation({ dialect: 'sqlite', path: '/a/state.db' })).toBe('/a/state.db');
  });
});
