/**
 * When to try again. Exponential backoff with "equal jitter" (half fixed, half random), so that a
 * burst of failures against one destination does not come back as a burst, yet never retries sooner
 * than half the nominal delay.
 *
 * @module
 */

/** Delay before attempt `attempt + 1`, given `attempt` failures so far (1-based). */
export function backoffMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

/** Longest pause a `Retry-After` may impose; a larger value is treated as this. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `now`, capped at an
 * hour. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}
