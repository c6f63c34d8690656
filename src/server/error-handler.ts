import { HTTPException } from 'hono/http-exception';
import { authFailureReason } from '../auth/index.js';
import { ExitCode, ShipError, isShipError, redactDeep } from '../core/index.js';
import { HttpError, HttpErrorCode, statusOf } from './http-error.js';
import type { ServerLogger } from './logger.js';
import type { AppContext } from './route.js';
import type { ErrorResponse } from './schemas.js';

/**
 * Hono's own exceptions. Only the body limit throws one here (and it is given an HttpError of
 * its own in app.ts); anything else would be a Hono middleware this app does not expect.
 */
function fromHonoException(error: HTTPException, requestId: string): ShipError {
  if (error.status === 413) {
    return new HttpError(413, HttpErrorCode.bodyTooLarge, 'The request body is too large.', {
      hint: 'send a smaller body',
    });
  }
  return internal(requestId);
}

function internal(requestId: string): ShipError {
  return new ShipError(
    HttpErrorCode.internal,
    `Internal server error (request ${requestId}); the server log has the details.`,
    { exitCode: ExitCode.runtime, retryable: false },
  );
}

/**
 * The answer to any error, per the API contract: the ShipError's status and
 * `{ok: false, error: ShipError.toJSON()}`, redacted. An error that is not a ShipError is a
 * bug: it is logged with its stack, and the client gets SHIP_INTERNAL without any detail.
 */
export function errorResponse(error: unknown, c: AppContext, logger: ServerLogger): Response {
  const requestId = c.get('requestId');
  const shipError = isShipError(error)
    ? error
    : error instanceof HTTPException
      ? fromHonoException(error, requestId)
      : internal(requestId);
  const status = statusOf(shipError);
  if (status >= 500) {
    logger.error(
      { err: error, reqId: requestId, route: c.get('route') },
      `request failed: ${shipError.code}`,
    );
  }
  const body: ErrorResponse = { ok: false, error: redactDeep(shipError.toJSON()) };
  const headers: Record<string, string> = {
    ...(shipError instanceof HttpError ? shipError.headers : {}),
  };
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="shipshape"';
  if (status === 503) headers['Retry-After'] = '5';
  // Kept for the access log line.
  c.set('errorCode', shipError.code);
  const failure = authFailureReason(error);
  if (failure) c.set('authFailure', failure.reason);
  return c.json(body, status, headers);
}
