import { ShipError } from './errors.js';

/** Milliseconds per duration unit, largest first (the order `formatDuration` emits them in). */
const UNITS = [
  ['w', 7 * 24 * 60 * 60 * 1000],
  ['d', 24 * 60 * 60 * 1000],
  ['h', 60 * 60 * 1000],
  ['m', 60 * 1000],
  ['s', 1000],
  ['ms', 1],
] as const;

type DurationUnit = (typeof UNITS)[number][0];

const UNIT_MS: ReadonlyMap<string, number> = new Map(UNITS);
const UNIT_RANK: ReadonlyMap<string, number> = new Map(UNITS.map(([unit], index) => [unit, index]));

/** What a duration looks like, for error messages and JSON Schema. */
export const DURATION_EXPECTED =
  'a whole number with a unit (ms, s, m, h, d, w), combined largest first: 500ms, 30s, 5m, 1h30m, 7d, 2w';

/** JSON Schema pattern for a duration string (the parser below is the authority). */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d|w))+$';

const PART = /(\d+)(ms|s|m|h|d|w)/gy;

/**
 * Parses a human duration into milliseconds. Parts are whole numbers with a unit — `ms`, `s`,
 * `m` (minutes), `h`, `d`, `w` — written largest first, each unit at most once. Months and
 * years are refused on purpose: their length varies, so `1mo` would mean different things on
 * different days.
 *
 * @example parseDuration('1h30m') // 5_400_000
 * @example parseDuration('2w') // 1_209_600_000
 * @throws ShipError `SHIP_BAD_DURATION` (exit 2) on anything else.
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw badDuration(text, 'it is empty');
  PART.lastIndex = 0;
  let total = 0;
  let lastRank = -1;
  let consumed = 0;
  for (let match = PART.exec(input); match !== null; match = PART.exec(input)) {
    const [, digits = '', unit = ''] = match;
    const rank = UNIT_RANK.get(unit) ?? -1;
    if (rank <= lastRank) {
      throw badDuration(text, `\`${unit}\` comes after a smaller or equal unit`);
    }
    lastRank = rank;
    total += Number(digits) * (UNIT_MS.get(unit) ?? 0);
    consumed = PART.lastIndex;
  }
  if (consumed !== input.length) {
    throw badDuration(text, explainLeftover(input, input.slice(consumed)));
  }
  if (!Number.isSafeInteger(total)) throw badDuration(text, 'it is too large');
  return total;
}

function explainLeftover(input: string, rest: string): string {
  if (/\d\s*(mo|months?|y|yrs?|years?)$/i.test(input)) {
    return 'months and years vary in length; use days or weeks (e.g. 30d, 52w)';
  }
  if (/^\d+$/.test(rest)) return `\`${rest}\` has no unit`;
  if (/^\d*\.\d/.test(rest)) return 'fractions are not allowed (write 1h30m, not 1.5h)';
  if (/^-/.test(rest)) return 'durations cannot be negative';
  return `\`${rest}\` is not a number followed by a unit`;
}

function badDuration(text: string, why: string): ShipError {
  return ShipError.usage('SHIP_BAD_DURATION', `"${text}" is not a duration: ${why}`, {
    hint: `write ${DURATION_EXPECTED}`,
    details: { value: text },
  });
}

/**
 * Formats milliseconds as the shortest duration string `parseDuration` reads back exactly.
 *
 * @example formatDuration(5_400_000) // '1h30m'
 * @example formatDuration(0) // '0s'
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`formatDuration needs a non-negative integer, got ${ms}`);
  }
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}

export type { DurationUnit };
