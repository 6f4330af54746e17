/**
 * The outage breaker: a destination failing temporarily several times in a row, across messages,
 * is paused (growing with the failures, at most {@link OUTAGE_MAX_PAUSE_MS}) so that only one round
 * of probes goes out per pause, instead of every due delivery burning an attempt and the store
 * absorbing a lease and an outcome per try while accepts compete for it. A `Retry-After` pauses the
 * destination for that long. Process memory on purpose: each replica probes for itself.
 *
 * @module
 */
import { backoffMs } from "./backoff.ts";
import type { HealthSignal } from "./policy.ts";

/** Temporary failures in a row after which a destination counts as down. */
export const OUTAGE_AFTER = 3;
/** Longest outage pause: a destination that recovers is tried again within this. */
export const OUTAGE_MAX_PAUSE_MS = 30_000;

/** Why the breaker paused a destination, for the log. */
export type PauseCause =
  | { readonly kind: "retry_after"; readonly ms: number }
  | { readonly kind: "outage"; readonly ms: number; readonly failures: number };

/** Per-destination pause state of one worker. */
export interface Breaker {
  /** Whether the destination is paused at `now`. */
  isPaused(destination: string, now: number): boolean;
  /**
   * Takes one attempt's health signal ({@linkcode HealthSignal}) into account; returns the pause it
   * started, if any. `none` neither trips nor resets it.
   */
  observe(
    destination: string,
    signal: HealthSignal,
    retryAfterMs: number | undefined,
    at: number,
  ): PauseCause | undefined;
  /** Destinations paused at `now`, with the time each resumes. */
  paused(now: number): ReadonlyMap<string, number>;
}

/** Creates an empty breaker; `retryMinMs`/`retryMaxMs` scale the outage pause like backoff. */
export function createBreaker(
  settings: { readonly retryMinMs: number; readonly retryMaxMs: number },
  random: () => number,
): Breaker {
  const pausedUntil = new Map<string, number>();
  const failuresInARow = new Map<string, number>();
  return {
    isPaused: (destination, now) => (pausedUntil.get(destination) ?? 0) > now,
    observe(destination, signal, retryAfterMs, at) {
      if (signal !== "down") {
        if (signal === "up") failuresInARow.delete(destination);
        return undefined;
      }
      const failures = (failuresInARow.get(destination) ?? 0) + 1;
      failuresInARow.set(destination, failures);
      if (retryAfterMs !== undefined) {
        pausedUntil.set(destination, at + retryAfterMs);
        return { kind: "retry_after", ms: retryAfterMs };
      }
      if (failures < OUTAGE_AFTER || (pausedUntil.get(destination) ?? 0) > at) return undefined;
      const ms = Math.min(
        OUTAGE_MAX_PAUSE_MS,
        backoffMs(failures - OUTAGE_AFTER + 1, settings.retryMinMs, settings.retryMaxMs, random),
      );
      pausedUntil.set(destination, at + ms);
      return { kind: "outage", ms, failures };
    },
    paused: (now) => new Map([...pausedUntil].filter(([, until]) => until > now)),
  };
}
