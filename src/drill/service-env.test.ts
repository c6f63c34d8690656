import { describe, expect, it } from 'vitest';

import { isShipError } from '../core/index.js';

import { checkDrillRefs, drillRefsIn, serviceEnvironment } from './service-env.js';

const bindings = {
  port: 41234,
  connections: new Map([
    ['orders', 'postgres://shipshape@/restored?host=/tmp/s/run&port=5999'],
    ['notes', '/tmp/sandbox/notes.db'],
  ]),
};
const context = { baseDir: '/srv/app', env: { API_TOKEN: 'tok-123', EMPTY: '' } };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isShipError(error) ? error.code : `not a ShipError: ${String(error)}`;
  }
  return undefined;
}

describe('service environment of a drill', () => {
  it('replaces ${drill:port} and ${drill:<store>} with the drill’s values', () => {
    expect(
      serviceEnvironment(
        {
          PORT: '${drill:port}',
          DATABASE_URL: '${drill:orders}',
          NOTES: 'file:${drill:notes}?mode=ro',
          PLAIN: 'unchanged',
        },
        bindings,
        context,
      ),
    ).toEqual({
      PORT: '41234',
      DATABASE_URL: 'postgres://shipshape@/restored?host=/tmp/s/run&port=5999',
      NOTES: 'file:/tmp/sandbox/notes.db?mode=ro',
      PLAIN: 'unchanged',
    });
  });

  it('resolves ${env:…} beside drill references, and a value cannot smuggle a reference in', () => {
    const sneaky = { ...bindings, connections: new Map([['orders', '${env:API_TOKEN}']]) };
    expect(
      serviceEnvironment(
        { AUTH: 'Bearer ${env:API_TOKEN}', URL: '${drill:orders}/x' },
        sneaky,
        context,
      ),
    ).toEqual({ AUTH: 'Bearer tok-123', URL: '${env:API_TOKEN}/x' });
  });

  it('refuses an unknown drill reference and an unset secret, naming the variable', () => {
    expect(codeOf(() => serviceEnvironment({ X: '${drill:ordres}' }, bindings, context))).toBe(
      'SHIP_DRILL_BAD_REFERENCE',
    );
    expect(codeOf(() => serviceEnvironment({ X: '${env:MISSING_ONE}' }, bindings, context))).toBe(
      'SHIP_SECRET_UNSET',
    );
  });

  it('lists and checks the references before anything is restored', () => {
    const env = { A: '${drill:port}', B: '${drill:orders} ${drill:notes}', C: '${env:X}' };
    expect(drillRefsIn(env).sort()).toEqual(['notes', 'orders', 'port']);
    expect(
      codeOf(() => {
        checkDrillRefs(env, ['orders', 'notes']);
      }),
    ).toBeUndefined();
    expect(
      codeOf(() => {
        checkDrillRefs(env, ['orders']);
      }),
    ).toBe('SHIP_DRILL_BAD_REFERENCE');
  });
});
