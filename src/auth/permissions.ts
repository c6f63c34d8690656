import { ExitCode, ShipError } from '../core/index.js';
import type { Actor } from '../ledger/index.js';
import { AuthErrorCode } from './errors.js';

/** Stands for "any role at all": the identity must hold at least one. */
export const ANY_ROLE = '*';

interface PermissionRule {
  /** What the permission allows, for messages and docs. */
  readonly description: string;
  /** Roles that grant it, or `ANY_ROLE`. */
  readonly roles: typeof ANY_ROLE | readonly string[];
}

/**
 * What each action needs. Roles come only from the spec (`roles:`), so this map and the spec
 * together decide who may do what. docs/identity.md has the same table.
 */
export const PERMISSIONS = {
  'ledger.read': {
    description: 'read, verify and export the evidence ledger',
    roles: ANY_ROLE,
  },
  'evidence.append': {
    description: 'append evidence to the ledger',
    roles: ['admin', 'sre-lead', 'deployer', 'security-lead', 'qa-lead', 'architect'],
  },
  'tokens.manage': {
    description: 'mint, list and revoke API tokens',
    roles: ['admin'],
  },
} as const satisfies Record<string, PermissionRule>;

export type Permission = keyof typeof PERMISSIONS;

/** The roles that grant `permission`, or `ANY_ROLE`. */
export function rolesGranting(permission: Permission): typeof ANY_ROLE | readonly string[] {
  return PERMISSIONS[permission].roles;
}

/**
 * Whether `actor` may do what `permission` covers.
 *
 * @example can({ kind: 'token', tokenId: 'ab12…', person: 'ci', roles: ['deployer'] }, 'evidence.append') // true
 */
export function can(actor: Actor, permission: Permission): boolean {
  const granting = rolesGranting(permission);
  if (granting === ANY_ROLE) return actor.roles.length > 0;
  return actor.roles.some((role) => granting.includes(role));
}

/** Who the actor is, in words: `alice (token 3f9a0c1b2d4e)`, `OS user bob (not in the spec)`. */
export function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case 'token':
      return `${actor.person ?? 'unknown person'} (token ${actor.tokenId ?? '?'})`;
    case 'os-user':
      return actor.person === undefined
        ? `OS user ${actor.osUser ?? '?'} (not in the spec)`
        : `${actor.person} (OS user ${actor.osUser ?? '?'})`;
    case 'system':
      return 'shipshape (system)';
  }
}

/**
 * Throws unless `actor` may do what `permission` covers.
 *
 * @throws ShipError SHIP_AUTH_FORBIDDEN (exit 19) naming the permission, the roles that grant it
 *   and the roles the actor holds.
 */
export function requirePermission(actor: Actor, permission: Permission): void {
  if (can(actor, permission)) return;
  const granting = rolesGranting(permission);
  const needs = granting === ANY_ROLE ? 'any role' : `one of the roles ${granting.join(', ')}`;
  const holds = actor.roles.length === 0 ? 'no roles' : `the roles ${actor.roles.join(', ')}`;
  throw new ShipError(
    AuthErrorCode.forbidden,
    `${describeActor(actor)} may not ${PERMISSIONS[permission].description} (permission ${permission}): it needs ${needs} and holds ${holds}.`,
    {
      exitCode: ExitCode.forbidden,
      details: {
        permission,
        requiredRoles: granting === ANY_ROLE ? [] : [...granting],
        actorRoles: [...actor.roles],
      },
      hint: forbiddenHint(actor, granting),
    },
  );
}

/** How the actor could get the permission, depending on how it acts. */
function forbiddenHint(actor: Actor, granting: typeof ANY_ROLE | readonly string[]): string {
  if (actor.kind === 'os-user' && actor.person === undefined) {
    return `add OS user ${actor.osUser ?? '?'} to a person's os_users in shipshape.yaml and give that person a role under roles:`;
  }
  if (granting === ANY_ROLE) return 'give the person a role under roles: in shipshape.yaml';
  const role = granting[0] ?? 'admin';
  if (actor.kind === 'token') {
    return `a token acts only with the roles it was minted with that its person still holds in shipshape.yaml; use a token minted with --roles ${role} for a person holding ${granting.join(' or ')}`;
  }
  return `an admin can add the person to roles.${role} (or another role granting it) in shipshape.yaml`;
}
