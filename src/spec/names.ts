/**
 * Name rules for the things a spec defines. Names end up in CLI arguments, file names,
 * environment variable names and URLs, so they are kept to a small, lower-case alphabet.
 */
export const NAME_RULES = {
  service: {
    pattern: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    expected:
      'a DNS label: 1-63 lower-case letters, digits and dashes, not starting or ending with a dash',
  },
  name: {
    pattern: /^[a-z][a-z0-9_-]{0,62}$/,
    expected: 'a name of lower-case letters, digits, `-` and `_`, starting with a letter (max 63)',
  },
  person: {
    pattern: /^[a-z0-9][a-z0-9._-]{0,62}$/,
    expected: 'a person id of lower-case letters, digits, `.`, `-` and `_` (max 63)',
  },
  role: {
    pattern: /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/,
    expected: 'a kebab-case role name such as `sre-lead` or `release-manager`',
  },
} as const satisfies Record<string, { pattern: RegExp; expected: string }>;

export type NameKind = keyof typeof NAME_RULES;

/**
 * Roles Shipshape itself knows and checks for (approvals, sign-offs, administration). A spec
 * may define more roles with any kebab-case name.
 */
export const BUILTIN_ROLES = [
  'sre-lead',
  'security-lead',
  'architect',
  'qa-lead',
  'deployer',
  'admin',
] as const;

export type BuiltinRole = (typeof BUILTIN_ROLES)[number];
