import { randomBytes } from 'node:crypto';

const DRILL_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/**
 * A new drill run id: the UTC time to the second, compact, and 6 random hex characters.
 * Ids sort by time, are unique in practice, and are safe in a file name.
 *
 * @example newDrillId(new Date('2026-11-22T13:05:00Z')) // '20261122T130500Z-3fa4c2'
 */
export function newDrillId(now: Date): string {
  const time = now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `${time}-${randomBytes(3).toString('hex')}`;
}

/** Is `text` a drill run id as {@link newDrillId} makes them? */
export function isDrillId(text: string): boolean {
  return DRILL_ID.test(text);
}
