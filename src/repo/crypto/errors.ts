import { ExitCode, ShipError } from '../../core/index.js';

/**
 * A repository object failed a check: authentication, magic, type, length or shape.
 * `what` names the object being read so the user can find it (`key file 3f2a…`, `index blob`).
 */
export function repoCorrupt(
  what: string,
  problem: string,
  options: { hint?: string; cause?: unknown } = {},
): ShipError {
  return new ShipError('SHIP_REPO_CORRUPT', `${what}: ${problem}`, {
    exitCode: ExitCode.repoCorrupt,
    retryable: false,
    details: { what },
    cause: options.cause,
    hint:
      options.hint ??
      'run `shipshape repo check --read-data` to list every damaged object; restore from another copy of the repository if the damage is real',
  });
}

/** A repository object uses a format version this build cannot read. */
export function repoUnsupportedVersion(what: string, found: number, supported: number): ShipError {
  return new ShipError(
    'SHIP_REPO_UNSUPPORTED_VERSION',
    `${what}: format version ${found} is not supported (this shipshape reads version ${supported}); a newer shipshape is needed, or the object is damaged`,
    {
      exitCode: ExitCode.repoCorrupt,
      retryable: false,
      details: { what, found, supported },
      hint: 'upgrade shipshape to a release that reads this repository format version',
    },
  );
}
