import { describe, expect, it } from 'vitest';
import { ExitCode, ShipError } from '../core/index.js';
import type { Actor } from '../ledger/index.js';
import {
  PERMISSIONS,
  can,
  describeActor,
  requirePermission,
  type Permission,
} from './permissions.js';

const token = (roles: string[]): Actor => ({
  kind: 'token',
  tokenId: 'abcdef012345',
  person: 'ci',
  roles,
});
const stranger: Actor = { kind: 'os-user', osUser: 'eve', roles: [] };

function thrown(fn: () => void): ShipError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ShipError) return error;
    throw error;
  }
  throw new Error('expected a ShipError');
}

describe('permissions', () => {
  it.each<[Permission, string[], boolean]>([
    ['ledger.read', ['qa-lead'], true],
    ['ledger.read', ['custom-role'], true],
    ['ledger.read', [], false],
    ['evidence.append', ['deployer'], true],
    ['evidence.append', ['architect'], true],
    ['evidence.append', ['custom-role'], false],
    ['tokens.manage', ['admin'], true],
    ['tokens.manage', ['sre-lead', 'deployer'], false],
  ])('%s with roles %j → %s', (permission, roles, expected) => {
    expect(can(token(roles), permission)).toBe(expected);
  });

  it('matches the table in the brief', () => {
    expect(PERMISSIONS['tokens.manage'].roles).toEqual(['admin']);
    expect([...PERMISSIONS['evidence.append'].roles].sort()).toEqual(
      ['admin', 'architect', 'deployer', 'qa-lead', 'security-lead', 'sre-lead'].sort(),
    );
  });

  it('refuses with SHIP_AUTH_FORBIDDEN (exit 19) naming the permission and granting roles', () => {
    const error = thrown(() => {
      requirePermission(token(['deployer']), 'tokens.manage');
    });
    expect(error.code).toBe('SHIP_AUTH_FORBIDDEN');
    expect(error.exitCode).toBe(ExitCode.forbidden);
    expect(error.message).toContain('tokens.manage');
    expect(error.message).toContain('admin');
    expect(error.message).toContain('ci (token abcdef012345)');
    expect(error.details).toMatchObject({ requiredRoles: ['admin'], actorRoles: ['deployer'] });
  });

  it('tells an OS user the spec does not name how to get a role', () => {
    const error = thrown(() => {
      requirePermission(stranger, 'ledger.read');
    });
    expect(error.message).toContain('OS user eve (not in the spec)');
    expect(error.hint).toContain('os_users');
    expect(() => {
      requirePermission(token(['admin']), 'tokens.manage');
    }).not.toThrow();
  });

  it('describes every kind of actor', () => {
    expect(describeActor({ kind: 'os-user', osUser: 'al', person: 'alice', roles: [] })).toBe(
      'alice (OS user al)',
    );
    expect(describeActor({ kind: 'system', roles: [] })).toBe('shipshape (system)');
  });
});
