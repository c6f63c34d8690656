/** How long to wait between attempts. */
export interface BackoffPolicy {
  /** Ceiling of the first wait. @default 1000 */
  baseMs: number;
  /** No wait is longer than this, and a longer `Retry-After` ends the delivery. @default 60000 */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60_000 };

/**
 * The wait before retry number `retry` (1-based): exponential backoff with full jitter, a
 * uniformly random time in [0, min(cap, base·2^(retry−1))). Jitter spreads the retries of many
 * senders after a receiver's outage instead of having them all return at once.
 *
 * @param random a source of numbers in [0, 1). @default Math.random
 * @example backoffDelay(3, { baseMs: 1000, capMs: 60000 }, () => 0.5) // 2000
 */
export function backoffDelay(
  retry: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  // 2^(retry-1) overflows nothing: the cap is reached long before exponent 1024.
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(Math.min(Math.max(random(), 0), 1 - Number.EPSILON) * ceiling);
}

/**
 * A `Retry-After` header as milliseconds to wait: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`, relative to `nowMs`). Undefined when absent or unreadable.
 *
 * @example parseRetryAfter('3', Date.now()) // 3000
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  const text = value?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  // An HTTP date has a weekday and month name; this also keeps Date.parse off `-5` and the like.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
