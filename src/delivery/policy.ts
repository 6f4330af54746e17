/**
 * The retry rules, the product's core promise, as one pure function: given what a sink answered
 * and how many attempts were made, what the delivery becomes. No clock, no store, no timers, so
 * every rule is unit-tested in milliseconds (`tests/policy_test.ts`); the worker only applies it.
 *
 * @module
 */
import type { SendResult } from "../sinks/sink.ts";
import type { Outcome } from "../store/store.ts";
import { backoffMs } from "./backoff.ts";

/** The knobs the policy reads (a subset of `DeliveryConfig`, and a destination's own schedule). */
export interface RetrySettings {
  readonly maxAttempts: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /**
   * A destination's explicit delays before each retry, in ms, instead of `maxAttempts` and the
   * backoff: after attempt n fails, the wait is `retrySchedule[n - 1]`; past its end, give up.
   */
  readonly retrySchedule?: readonly number[];
}

/**
 * What an attempt says about whether the destination is up, for the outage breaker: `down` counts
 * towards an outage pause, `up` ends the count, `none` leaves it alone.
 */
export type HealthSignal = "down" | "up" | "none";

/** What one attempt leads to. */
export interface Decision {
  /** What the store records (without latency, which the worker measured). */
  readonly outcome: Omit<Outcome, "latencyMs">;
  /** What it says about the destination's health. */
  readonly signal: HealthSignal;
  /** The destination said it is gone: hold its deliveries until it is edited or resumed. */
  readonly disable?: string;
}

/** One attempt as the policy sees it. */
export interface AttemptInput {
  readonly result: SendResult;
  /** The attempt's number, 1-based (attempts already made plus this one when it counts). */
  readonly attempt: number;
  /** When the answer came, ms since epoch. */
  readonly at: number;
  /** False for an attempt that never started (an expired lease settled as `unknown`). */
  readonly counts: boolean;
}

/**
 * A temporary failure is a sign of an outage and any answer a sign of life. `unknown` says nothing
 * (the request may or may not have arrived), and neither does a request never sent (`notSent`: it
 * could not be built, or the address guard refused its address): that is this message's or this
 * configuration's fault, so 30 poison messages cannot pause a destination that works.
 */
export function healthSignal(result: SendResult): HealthSignal {
  if (result.state === "temporary_failure") return "down";
  if (result.state === "unknown") return "none";
  if (result.state === "permanent_failure" && result.notSent) return "none";
  return "up";
}

/**
 * Decides a delivery's next state. A temporary failure is retried after `Retry-After` when the
 * destination sent one, else after jittered exponential backoff (or the destination's retry
 * schedule), until `maxAttempts` is reached (with a schedule: until it runs out), then
 * `permanent_failure`, "gave up after n attempts". Every other result is final as it is; a gone
 * destination (`disable`) also asks for the destination to be held.
 */
export function decide(
  { result, attempt, at, counts }: AttemptInput,
  settings: RetrySettings,
  random: () => number,
): Decision {
  if (result.state === "temporary_failure") {
    const schedule = settings.retrySchedule;
    if (attempt >= (schedule ? schedule.length + 1 : settings.maxAttempts)) {
      return {
        outcome: {
          state: "permanent_failure",
          at,
          status: result.status,
          reason: `gave up after ${attempt} attempts: ${result.reason}`,
        },
        signal: "down",
      };
    }
    const wait = result.retryAfterMs ?? schedule?.[attempt - 1] ??
      backoffMs(attempt, settings.retryMinMs, settings.retryMaxMs, random);
    return {
      outcome: {
        state: "temporary_failure",
        at,
        status: result.status,
        reason: result.reason,
        nextAttemptAt: at + wait,
      },
      signal: "down",
    };
  }
  const outcome = {
    state: result.state,
    at,
    status: result.status,
    reason: result.state === "sent" ? result.detail : result.reason,
    counts,
  };
  const signal = healthSignal(result);
  if (result.state === "permanent_failure" && result.disable) {
    return { outcome, signal, disable: result.reason };
  }
  return { outcome, signal };
}
