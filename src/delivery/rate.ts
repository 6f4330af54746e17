/**
 * A destination's rate limit as a pure token bucket: tokens refill at `perSecond`, a send spends
 * one, and the bucket holds at most a tenth of a second's worth (at least one), so sends are
 * spread evenly rather than let out in bursts. No clock: the worker passes the time in, so the
 * arithmetic is unit-tested in milliseconds (`tests/policy_test.ts`).
 *
 * @module
 */

/** The tokens left at time `at` (ms since epoch). */
export interface TokenBucket {
  readonly tokens: number;
  readonly at: number;
}

/** What the bucket holds at most at `perSecond`: a tenth of a second's sends, at least one. */
export function burstOf(perSecond: number): number {
  return Math.max(1, perSecond / 10);
}

/** The bucket at `now`: full when new, else refilled for the time since it was last seen. */
export function refill(
  bucket: TokenBucket | undefined,
  perSecond: number,
  now: number,
): TokenBucket {
  const burst = burstOf(perSecond);
  if (!bucket) return { tokens: burst, at: now };
  const elapsed = Math.max(0, now - bucket.at);
  return {
    tokens: Math.min(burst, bucket.tokens + (elapsed * perSecond) / 1000),
    at: Math.max(now, bucket.at),
  };
}

/** Whole sends the bucket allows now. */
export function allowance(bucket: TokenBucket): number {
  return Math.floor(bucket.tokens);
}

/** The bucket after `sends` sends. */
export function spend(bucket: TokenBucket, sends: number): TokenBucket {
  return { ...bucket, tokens: bucket.tokens - sends };
}

/** Milliseconds until the bucket allows one more send (0: now). */
export function untilNextMs(bucket: TokenBucket, perSecond: number): number {
  return bucket.tokens >= 1 ? 0 : Math.ceil(((1 - bucket.tokens) * 1000) / perSecond);
}
