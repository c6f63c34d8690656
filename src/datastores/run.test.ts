import { describe, expect, it } from 'vitest';

import type { Datastore } from '../spec/index.js';

import { datastoreTarget } from './run.js';

const sqlite: Datastore = {
  kind: 'sqlite',
  connection: { staging: 'data/staging.db', production: '/srv/app/prod.db' },
  repository: 'local',
  fingerprint: 'counts',
};

describe('datastoreTarget', () => {
  it('resolves a relative sqlite path against the spec directory', () => {
    const { target, environment } = datastoreTarget('app', sqlite, {
      baseDir: '/work/service',
      env: {},
      environment: 'staging',
    });
    expect(environment).toBe('staging');
    expect(target).toEqual({
      name: 'app',
      connection: '/work/service/data/staging.db',
      environment: 'staging',
    });
  });

  it('needs --env when a store has several connections, and names them', () => {
    expect(() => datastoreTarget('app', sqlite, { baseDir: '/x', env: {} })).toThrow(
      expect.objectContaining({
        code: 'SHIP_DATASTORE_ENVIRONMENT_REQUIRED',
        exitCode: 2,
        message: 'data store app has connections for staging, production: say which',
      }),
    );
    expect(() =>
      datastoreTarget('app', sqlite, { baseDir: '/x', env: {}, environment: 'qa' }),
    ).toThrow(expect.objectContaining({ code: 'SHIP_DATASTORE_NO_CONNECTION', exitCode: 2 }));
  });

  it('uses the only connection without --env and resolves secret references', () => {
    const store: Datastore = {
      kind: 'postgres',
      connection: { production: 'postgres://backup:${env:PW_FOR_TEST}@db/orders' },
      repository: 'local',
      fingerprint: 'full',
    };
    const { target } = datastoreTarget('orders', store, {
      baseDir: '/x',
      env: { PW_FOR_TEST: 'pw-value-1' },
    });
    expect(target.connection).toBe('postgres://backup:pw-value-1@db/orders');
    expect(target.environment).toBe('production');
  });

  it('passes the command section of a command store', () => {
    const store: Datastore = {
      kind: 'command',
      connection: { production: 'https://search:9200' },
      repository: 'local',
      fingerprint: 'off',
      command: { backup: 'dump', restore: 'load' },
    };
    expect(datastoreTarget('search', store, { baseDir: '/x', env: {} }).target.command).toEqual({
      backup: 'dump',
      restore: 'load',
    });
  });
});
