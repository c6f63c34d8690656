const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

type Unit = keyof typeof UNIT_MS;

const HUMAN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const HUMAN_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
/** ISO 8601 durations without years and months, whose length depends on the calendar. */
const ISO = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses a duration given as human text (`90s`, `30m`, `1h30m`, `7d`, `2w`) or as an ISO 8601
 * duration without years or months (`P7D`, `PT24H`, `P1DT12H`) into milliseconds.
 * Returns `undefined` when the text is neither, or the duration is zero.
 *
 * @example
 * parseDurationMs('1h30m') // 5_400_000
 */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  let total = 0;
  if (HUMAN.test(trimmed)) {
    for (const match of trimmed.matchAll(HUMAN_PART)) {
      total += Number(match[1]) * UNIT_MS[match[2] as Unit];
    }
  } else {
    const iso = ISO.exec(trimmed);
    if (!iso || trimmed === 'P' || trimmed.endsWith('T')) return undefined;
    const [, weeks, days, hours, minutes, seconds] = iso;
    total =
      Number(weeks ?? 0) * UNIT_MS.w +
      Number(days ?? 0) * UNIT_MS.d +
      Number(hours ?? 0) * UNIT_MS.h +
      Number(minutes ?? 0) * UNIT_MS.m +
      Number(seconds ?? 0) * UNIT_MS.s;
  }
  total = Math.round(total);
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}
