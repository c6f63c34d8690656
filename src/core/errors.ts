import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/** Where in a file something went wrong (1-based line and column). */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** One problem, as data. A ShipError carries one or more of these. */
export interface Problem {
  /** Stable code, e.g. `SHIP_SPEC_UNKNOWN_KEY`. Tests and scripts match on it. */
  code: string;
  /** What is wrong, in one sentence, naming the offending value. */
  message: string;
  /** Dotted field path inside the parsed document, e.g. `datastores.orders.retention`. */
  path?: string;
  location?: SourceLocation;
  /** What was expected. */
  expected?: string;
  /** How to fix it. */
  hint?: string;
}

export interface ShipErrorOptions {
  exitCode?: ExitCodeValue;
  details?: Record<string, unknown>;
  retryable?: boolean;
  hint?: string;
  problems?: Problem[];
  cause?: unknown;
}

/**
 * A failure a user can cause or must act on: a stable code, a message, details, whether a
 * retry may help, and the exit code the CLI uses. Services throw it; only the CLI prints it.
 * Programmer errors stay plain `Error`s (and are reported as internal errors).
 *
 * @example
 * throw ShipError.usage('SHIP_CLI_BAD_FLAG', '--limit must be a positive integer, got "x"', {
 *   hint: 'pass --limit 50',
 * });
 */
export class ShipError extends Error {
  override readonly name = 'ShipError';
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly details: Record<string, unknown>;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly problems: Problem[];

  constructor(code: string, message: string, options: ShipErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.runtime;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
  }

  /** A usage or configuration error (exit 2). Never retryable. */
  static usage(code: string, message: string, options: Omit<ShipErrorOptions, 'exitCode'> = {}) {
    return new ShipError(code, message, { ...options, exitCode: ExitCode.usage, retryable: false });
  }

  /** A runtime failure (exit 3): something outside the user's input went wrong. */
  static runtime(code: string, message: string, options: Omit<ShipErrorOptions, 'exitCode'> = {}) {
    return new ShipError(code, message, { ...options, exitCode: ExitCode.runtime });
  }

  /** Several problems found in one document, reported together (exit 2). */
  static problems(code: string, summary: string, problems: Problem[]) {
    return new ShipError(code, summary, {
      exitCode: ExitCode.usage,
      problems,
      retryable: false,
    });
  }

  /** Plain data for `--json` output and evidence. */
  toJSON(): ShipErrorJson {
    return {
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      retryable: this.retryable,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(Object.keys(this.details).length === 0 ? {} : { details: this.details }),
      ...(this.problems.length === 0 ? {} : { problems: this.problems }),
    };
  }
}

export interface ShipErrorJson {
  code: string;
  message: string;
  exitCode: number;
  retryable: boolean;
  hint?: string;
  details?: Record<string, unknown>;
  problems?: Problem[];
}

export function isShipError(value: unknown): value is ShipError {
  return value instanceof ShipError;
}

/** Formats a problem as `file:line:col: CODE message (path) expected … hint`. */
export function formatProblem(problem: Problem): string {
  const where = problem.location
    ? `${problem.location.file}:${problem.location.line}:${problem.location.column}: `
    : '';
  const field = problem.path ? ` at \`${problem.path}\`` : '';
  const lines = [`${where}${problem.code}${field}: ${problem.message}`];
  if (problem.expected) lines.push(`  expected: ${problem.expected}`);
  if (problem.hint) lines.push(`  fix: ${problem.hint}`);
  return lines.join('\n');
}
