import { describe, expect, it } from 'vitest';
import { ExitCode, ShipError } from '../core/index.js';
import { HttpError, statusOf } from './http-error.js';

describe('statusOf', () => {
  it.each([
    [new ShipError('SHIP_AUTH_UNAUTHENTICATED', 'm', { exitCode: ExitCode.forbidden }), 401],
    [new ShipError('SHIP_AUTH_FORBIDDEN', 'm', { exitCode: ExitCode.forbidden }), 403],
    [ShipError.usage('SHIP_LEDGER_BAD_FILTER', 'm'), 400],
    [ShipError.usage('SHIP_LEDGER_NOT_FOUND', 'm'), 404],
    [ShipError.usage('SHIP_AUTH_TOKEN_NOT_FOUND', 'm'), 404],
    [ShipError.problems('SHIP_LEDGER_BAD_INPUT', 'm', []), 400],
    [ShipError.runtime('SHIP_STORE_UNREACHABLE', 'm'), 503],
    [new ShipError('SHIP_STORE_BUSY', 'm', { exitCode: ExitCode.lockHeld }), 503],
    [ShipError.runtime('SHIP_STORE_CORRUPT', 'm'), 500],
    [new ShipError('SHIP_LEDGER_BAD_RECORD', 'm', { exitCode: ExitCode.ledgerTampered }), 500],
    [new HttpError(415, 'SHIP_HTTP_UNSUPPORTED_MEDIA_TYPE', 'm'), 415],
  ])('%s → %i', (error, status) => {
    expect(statusOf(error)).toBe(status);
  });

  it('gives HttpErrors the exit code of their class', () => {
    expect(new HttpError(400, 'SHIP_X', 'm').exitCode).toBe(ExitCode.usage);
    expect(new HttpError(503, 'SHIP_X', 'm').exitCode).toBe(ExitCode.runtime);
  });
});
