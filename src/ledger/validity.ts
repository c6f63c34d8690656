import { isShipError, parseDuration } from '../core/index.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * ISO 8601 durations without years and months, whose length depends on the calendar:
 * `P7D`, `PT24H`, `P1DT12H`, `P2W`, `PT90M`, `PT1.5S`.
 */
const ISO = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/**
 * Parses how long a gate result stays valid: a Shipshape duration (`30m`, `12h`, `7d`, `2w`,
 * see `parseDuration`) or an ISO 8601 duration without years or months (`P7D`, `PT24H`).
 * Returns milliseconds, or a sentence saying what is wrong.
 *
 * @example parseValidity('P1DT12H') // 129_600_000
 */
export function parseValidity(text: string): number | { error: string } {
  const input = text.trim();
  let ms: number;
  if (input.startsWith('P')) {
    const match = ISO.exec(input);
    if (!match || input === 'P') {
      return {
        error: `"${text}" is not an ISO 8601 duration without years or months (e.g. P7D, PT24H)`,
      };
    }
    const [, weeks, days, hours, minutes, seconds] = match;
    ms = Math.round(
      Number(weeks ?? 0) * 7 * DAY_MS +
        Number(days ?? 0) * DAY_MS +
        Number(hours ?? 0) * HOUR_MS +
        Number(minutes ?? 0) * 60_000 +
        Number(seconds ?? 0) * 1000,
    );
  } else {
    try {
      ms = parseDuration(input);
    } catch (error) {
      if (isShipError(error)) return { error: error.message };
      throw error;
    }
  }
  if (ms <= 0) return { error: `"${text}" is zero; a result must stay valid for some time` };
  if (!Number.isSafeInteger(ms)) return { error: `"${text}" is too long` };
  return ms;
}
