import type { Spec } from './schema.js';

/**
 * The roles `personId` holds, in the order the spec lists them. The spec is the single source
 * of truth for roles: nothing else grants one.
 *
 * @example rolesOf(spec, 'alice') // ['sre-lead', 'admin']
 */
export function rolesOf(spec: Spec, personId: string): string[] {
  return Object.entries(spec.roles)
    .filter(([, holders]) => holders.includes(personId))
    .map(([role]) => role);
}

/**
 * The id of the person who acts as OS user `osUser` (from `people.*.os_users`), if any. When
 * several people list the same OS user, the first in the spec wins.
 */
export function personForOsUser(spec: Spec, osUser: string): string | undefined {
  return Object.entries(spec.people).find(([, person]) => person.os_users?.includes(osUser))?.[0];
}

/** The ids of the people holding `role`. */
export function holdersOf(spec: Spec, role: string): string[] {
  return [...(spec.roles[role] ?? [])];
}
