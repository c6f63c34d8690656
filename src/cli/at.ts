import { ShipError } from '../core/index.js';

/** `--at`: an ISO 8601 date-time (with an offset, or UTC when it has none). */
export function parseAt(text: string): Date {
  const withZone = /(?:Z|[+-]\d\d:?\d\d)$/i.test(text) || !text.includes('T') ? text : `${text}Z`;
  const time = Date.parse(withZone);
  if (!Number.isFinite(time) || !/^\d{4}-\d\d-\d\d/.test(text)) {
    throw ShipError.usage('SHIP_CLI_BAD_FLAG', `--at must be a date-time, got "${text}"`, {
      hint: 'pass e.g. --at 2026-03-01T09:30:00Z (UTC when no offset is given)',
    });
  }
  return new Date(time);
}
