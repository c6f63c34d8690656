import { ShipError } from './errors.js';

/**
 * Byte multipliers by unit, case-insensitive. IEC units (`KiB`, `MiB`, …) are powers of 1024;
 * SI units (`kB`, `MB`, …) are powers of 1000; the one-letter shorthands (`k`, `M`, `G`, `T`,
 * `P`) are IEC, as in restic, rsync and docker, because sizes here describe buffers and pack
 * files that are sized in powers of two.
 */
const MULTIPLIERS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['k', 1024],
  ['kib', 1024],
  ['kb', 1000],
  ['m', 1024 ** 2],
  ['mib', 1024 ** 2],
  ['mb', 1000 ** 2],
  ['g', 1024 ** 3],
  ['gib', 1024 ** 3],
  ['gb', 1000 ** 3],
  ['t', 1024 ** 4],
  ['tib', 1024 ** 4],
  ['tb', 1000 ** 4],
  ['p', 1024 ** 5],
  ['pib', 1024 ** 5],
  ['pb', 1000 ** 5],
]);

/** What a size looks like, for error messages and JSON Schema. */
export const SIZE_EXPECTED =
  'a number with an optional unit: bytes (512, 512B), IEC powers of 1024 (KiB, MiB, GiB, TiB, or k, M, G, T) or SI powers of 1000 (kB, MB, GB, TB)';

/** JSON Schema pattern for a size string (the parser below is the authority). */
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtTpP]([iI]?[bB])?|[bB])?$';

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/**
 * Parses a size into bytes. A fractional number is allowed (`1.5GiB`) and rounded down to
 * whole bytes.
 *
 * @example parseSize('16MiB') // 16_777_216
 * @example parseSize('1GB') // 1_000_000_000
 * @example parseSize('512k') // 524_288 (one-letter units are IEC)
 * @throws ShipError `SHIP_BAD_SIZE` (exit 2) on anything else.
 */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim());
  const multiplier = match ? MULTIPLIERS.get((match[2] ?? '').toLowerCase()) : undefined;
  if (!match || multiplier === undefined) {
    throw ShipError.usage('SHIP_BAD_SIZE', `"${text}" is not a size`, {
      hint: `write ${SIZE_EXPECTED}`,
      details: { value: text },
    });
  }
  const bytes = Math.floor(Number(match[1]) * multiplier);
  if (!Number.isSafeInteger(bytes)) {
    throw ShipError.usage('SHIP_BAD_SIZE', `"${text}" is too large`, { details: { value: text } });
  }
  return bytes;
}

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * Formats bytes with IEC units, exact when the value is a whole number of the unit and with
 * one decimal otherwise.
 *
 * @example formatSize(16_777_216) // '16MiB'
 * @example formatSize(1_500) // '1.5KiB'
 */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`formatSize needs a non-negative integer, got ${bytes}`);
  }
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < IEC.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text}${IEC[unit] ?? 'B'}`;
}
