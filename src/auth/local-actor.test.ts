import { userInfo } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSpec } from '../spec/index.js';
import { localActor } from './local-actor.js';

const me = userInfo().username;

const spec = parseSpec(
  `version: 1
service:
  name: shop
people:
  me:
    name: Me
    os_users: [${JSON.stringify(me)}]
  boss:
    name: Boss
    os_users: [boss-login]
    tokens: true
roles:
  admin: [boss]
  qa-lead: [me]
`,
  'shipshape.yaml',
).spec;

describe('localActor', () => {
  const saved = { USER: process.env.USER, LOGNAME: process.env.LOGNAME };
  afterEach(() => {
    if (saved.USER === undefined) delete process.env.USER;
    else process.env.USER = saved.USER;
    if (saved.LOGNAME === undefined) delete process.env.LOGNAME;
    else process.env.LOGNAME = saved.LOGNAME;
  });

  it('is the OS user from os.userInfo() with the roles the spec gives its person', () => {
    expect(localActor(spec)).toEqual({
      kind: 'os-user',
      osUser: me,
      person: 'me',
      roles: ['qa-lead'],
    });
  });

  it('ignores $USER and $LOGNAME, which anyone can set', () => {
    process.env.USER = 'boss-login';
    process.env.LOGNAME = 'boss-login';
    const actor = localActor(spec);
    expect(actor.osUser).toBe(me);
    expect(actor.person).toBe('me');
    expect(actor.roles).not.toContain('admin');
  });

  it('gives an OS user the spec does not name no person and no roles', () => {
    expect(localActor(spec, 'stranger')).toEqual({
      kind: 'os-user',
      osUser: 'stranger',
      roles: [],
    });
  });
});
