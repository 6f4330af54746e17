/**
 * Time for the delivery loop. Wall-clock time is what the store keeps (it is shared by replicas
 * and shown to operators), but a wall clock can step backwards (NTP, a VM resumed): due times
 * written before the step would then be postponed by the size of the step. {@link steadyClock}
 * never goes backwards: when the wall clock falls behind, it moves on with monotonic time instead.
 *
 * @module
 */

/** Milliseconds since epoch; injected so tests can move time. */
export interface Clock {
  now(): number;
  /**
   * A monotonic millisecond counter (`performance.now()`), unaffected by wall-clock steps. Absent:
   * the clock is trusted as it is.
   */
  elapsed?(): number;
}

/** The system clock: `Date.now()`, steadied by `performance.now()`. */
export const systemClock: Clock = { now: () => Date.now(), elapsed: () => performance.now() };

/**
 * A clock that follows `clock` forwards but never backwards: after a backward step it advances by
 * the monotonic time elapsed since its last reading, until the wall clock catches up. Readings are
 * whole milliseconds.
 */
export function steadyClock(clock: Clock): Clock {
  const elapsed = clock.elapsed?.bind(clock);
  if (!elapsed) return clock;
  let last = -Infinity;
  let lastElapsed = 0;
  return {
    now() {
      const e = elapsed();
      const t = Math.max(clock.now(), last + (e - lastElapsed));
      last = t;
      lastElapsed = e;
      // Whole milliseconds, as the store keeps them (bigint columns).
      return Math.floor(t);
    },
    elapsed,
  };
}
