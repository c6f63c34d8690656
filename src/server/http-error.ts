import { ExitCode, ShipError, type Problem, type ShipErrorOptions } from '../core/index.js';

/** HTTP statuses the API answers errors with. */
export const ERROR_STATUSES = [400, 401, 403, 404, 405, 413, 415, 500, 503] as const;
export type ErrorStatus = (typeof ERROR_STATUSES)[number];

/** Stable codes of the errors the HTTP layer itself raises (docs/exit-codes.md, docs/server.md). */
export const HttpErrorCode = {
  /** The request body is not valid JSON. */
  badJson: 'SHIP_HTTP_BAD_JSON',
  /** The request body does not match the route's schema (each problem listed). */
  badBody: 'SHIP_HTTP_BAD_BODY',
  /** The query string does not match the route's schema (each problem listed). */
  badQuery: 'SHIP_HTTP_BAD_QUERY',
  /** No route has this path. */
  notFound: 'SHIP_HTTP_NOT_FOUND',
  /** The path exists, but not with this method (`Allow` lists those that do). */
  methodNotAllowed: 'SHIP_HTTP_METHOD_NOT_ALLOWED',
  /** The body is larger than the server accepts. */
  bodyTooLarge: 'SHIP_HTTP_BODY_TOO_LARGE',
  /** A body was sent with a content type other than JSON. */
  unsupportedMediaType: 'SHIP_HTTP_UNSUPPORTED_MEDIA_TYPE',
  /** No or no usable `Authorization: Bearer` header (the auth module raises the same code for bad tokens). */
  unauthenticated: 'SHIP_AUTH_UNAUTHENTICATED',
  /** Something unexpected failed inside the server; the log line with the request id has the details. */
  internal: 'SHIP_INTERNAL',
} as const;
export type HttpErrorCodeValue = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/**
 * The one HTTP error type: a ShipError that also carries its HTTP status (and headers such as
 * `Allow` or `WWW-Authenticate`). Errors from services stay plain ShipErrors; `statusOf` maps
 * them. Both reach the client through the one error handler (`error-handler.ts`).
 *
 * @example throw HttpError.badRequest(HttpErrorCode.badJson, 'The body is not valid JSON: …');
 */
export class HttpError extends ShipError {
  readonly status: ErrorStatus;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: ErrorStatus,
    code: string,
    message: string,
    options: ShipErrorOptions & { headers?: Record<string, string> } = {},
  ) {
    const { headers, ...rest } = options;
    super(code, message, { exitCode: status >= 500 ? ExitCode.runtime : ExitCode.usage, ...rest });
    this.status = status;
    this.headers = headers ?? {};
  }

  /** A 400 listing every problem found in the query or body. */
  static badRequest(code: string, message: string, problems: Problem[] = []): HttpError {
    return new HttpError(400, code, message, { problems, retryable: false });
  }
}

/** Store codes that mean "the database is not there right now": 503, try again. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'SHIP_STORE_UNREACHABLE',
  'SHIP_STORE_BUSY',
]);

/**
 * The HTTP status of an error, per the API contract (docs/server.md):
 * an HttpError's own status; 401/403 for the auth codes; usage (exit 2) → 400, or 404 for a
 * `SHIP_*_NOT_FOUND`; the store unreachable or busy → 503; anything else → 500.
 */
export function statusOf(error: ShipError): ErrorStatus {
  if (error instanceof HttpError) return error.status;
  if (error.code === 'SHIP_AUTH_UNAUTHENTICATED') return 401;
  if (error.code === 'SHIP_AUTH_FORBIDDEN' || error.exitCode === ExitCode.forbidden) return 403;
  if (error.exitCode === ExitCode.usage) return error.code.endsWith('_NOT_FOUND') ? 404 : 400;
  if (UNAVAILABLE_CODES.has(error.code)) return 503;
  return 500;
}
