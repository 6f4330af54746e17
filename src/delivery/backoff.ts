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
