/**
 * Rate limiting for repeated log lines: a full disk or a misbehaving client must not write one line
 * per request (34,758 ERROR lines in 8 s were seen). Per key, the first line in each interval is
 * written; the rest are counted, and the next line written says how many were suppressed.
 *
 * @module
 */

/** What to do with one occurrence. */
export interface LimitDecision {
  /** Write this line. */
  readonly emit: boolean;
  /** Occurrences of the same key suppressed since the last line written (when `emit`). */
  readonly suppressed: number;
}

/** A per-key limiter: at most one line per key per `intervalMs`. */
export interface LogLimiter {
  check(key: string): LimitDecision;
}

/** Keys tracked at most; beyond, the oldest are forgotten (keys come from bounded reasons). */
const MAX_KEYS = 1000;

/** Creates a limiter. `now` is injectable for tests. */
export function createLogLimiter(intervalMs = 1000, now: () => number = Date.now): LogLimiter {
  const state = new Map<string, { last: number; suppressed: number }>();
  return {
    check(key) {
      const t = now();
      const s = state.get(key);
      if (s && t - s.last < intervalMs) {
        s.suppressed++;
        return { emit: false, suppressed: 0 };
      }
      const suppressed = s?.suppressed ?? 0;
      state.delete(key);
      state.set(key, { last: t, suppressed: 0 });
      if (state.size > MAX_KEYS) state.delete(state.keys().next().value!);
      return { emit: true, suppressed };
    },
  };
}

/** ` (12 similar lines suppressed)` or nothing: appended to a line that follows suppressed ones. */
export function suppressedNote(suppressed: number): string {
  return suppressed > 0 ? ` (${suppressed} similar lines suppressed)` : "";
}
