import { userInfo } from 'node:os';
import { personForOsUser, rolesOf, type Spec } from '../spec/index.js';
import type { Actor } from '../ledger/index.js';

/**
 * The identity of a local operator (no token): the OS user the process runs as, taken from
 * `os.userInfo()` — never `$USER`, which anyone can set — and the person and roles the spec
 * gives that OS user. An OS user the spec does not name acts with no roles.
 */
export function localActor(spec: Spec, osUser: string = userInfo().username): Actor {
  const person = personForOsUser(spec, osUser);
  return {
    kind: 'os-user',
    osUser,
    ...(person === undefined ? {} : { person }),
    roles: person === undefined ? [] : rolesOf(spec, person),
  };
}
