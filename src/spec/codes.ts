/**
 * Stable codes of the problems a spec can have. Scripts and tests match on them; each is
 * documented in docs/spec.md (a test keeps the two in step).
 */
export const SpecProblemCode = {
  yamlSyntax: 'SHIP_SPEC_YAML_SYNTAX',
  duplicateKey: 'SHIP_SPEC_DUPLICATE_KEY',
  tooLarge: 'SHIP_SPEC_TOO_LARGE',
  notAMap: 'SHIP_SPEC_NOT_A_MAP',
  unsupportedVersion: 'SHIP_SPEC_UNSUPPORTED_VERSION',
  unknownKey: 'SHIP_SPEC_UNKNOWN_KEY',
  missingKey: 'SHIP_SPEC_MISSING_KEY',
  wrongType: 'SHIP_SPEC_WRONG_TYPE',
  badValue: 'SHIP_SPEC_BAD_VALUE',
  badName: 'SHIP_SPEC_BAD_NAME',
  badDuration: 'SHIP_SPEC_BAD_DURATION',
  badSize: 'SHIP_SPEC_BAD_SIZE',
  badCron: 'SHIP_SPEC_BAD_CRON',
  badTimezone: 'SHIP_SPEC_BAD_TIMEZONE',
  unknownReference: 'SHIP_SPEC_UNKNOWN_REFERENCE',
  literalSecret: 'SHIP_SPEC_LITERAL_SECRET',
  badSecretRef: 'SHIP_SPEC_BAD_SECRET_REF',
} as const;

export type SpecProblemCodeName = keyof typeof SpecProblemCode;
export type SpecProblemCodeValue = (typeof SpecProblemCode)[SpecProblemCodeName];

/** Codes of the error thrown for the whole file (not per problem). */
export const SpecErrorCode = {
  /** The spec has one or more problems; they are in `error.problems`. */
  invalid: 'SHIP_SPEC_INVALID',
  /** No spec file where one was expected. */
  notFound: 'SHIP_SPEC_NOT_FOUND',
  /** The spec file exists but cannot be read. */
  unreadable: 'SHIP_SPEC_UNREADABLE',
} as const;
