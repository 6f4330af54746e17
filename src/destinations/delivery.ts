/**
 * Per-destination delivery settings: how many sends a destination takes at once, how many requests
 * per second (as Svix's `throttleRate`), and an explicit retry schedule instead of the relay-wide
 * backoff. One schema for the `RELAY_CONFIG` file and the admin API (snake_case there, as the rest
 * of both), one record carried on the {@link ./destination.ts Destination}. Every field is
 * optional; an absent one keeps the relay-wide default (`RELAY_CONCURRENCY`, no rate limit,
 * `RELAY_MAX_ATTEMPTS` with `RELAY_RETRY_MIN_MS`/`RELAY_RETRY_MAX_MS`).
 *
 * @module
 */
import { z } from "zod";

/** The longest delay a retry schedule may name: a week, as long as any outage worth waiting out. */
export const MAX_RETRY_DELAY_MS = 7 * 24 * 60 * 60 * 1000;
/** Retries a schedule may list at most (each is an attempt in the delivery's history). */
export const MAX_SCHEDULE_LENGTH = 30;

/** A destination's own delivery settings; absent fields take the relay-wide default. */
export interface DeliverySettings {
  /** Sends in flight at once to this destination. */
  readonly concurrency?: number;
  /** Requests per second at most, spread evenly (a token bucket). */
  readonly rateLimit?: number;
  /**
   * Delays before each retry, in ms: `[1000, 60000]` retries after 1 s, then after a minute, then
   * gives up (three attempts in all). A `Retry-After` from the destination still takes precedence.
   */
  readonly retrySchedule?: readonly number[];
}

/** The settings' JSON shape, as the config file and the admin API write and show them. */
export const DeliverySettingsJson = z.strictObject({
  concurrency: z.int({ error: "expected a whole number" }).min(1, "must be at least 1").max(
    256,
    "must be at most 256",
  ).optional(),
  rate_limit: z.number().positive("must be greater than 0").max(10_000, "must be at most 10000")
    .optional(),
  retry_schedule: z.array(
    z.int({ error: "expected a whole number of ms" }).min(0, "must be at least 0").max(
      MAX_RETRY_DELAY_MS,
      `must be at most ${MAX_RETRY_DELAY_MS} (a week)`,
    ),
  ).min(1, "list at least one delay, in ms").max(
    MAX_SCHEDULE_LENGTH,
    `list at most ${MAX_SCHEDULE_LENGTH} delays`,
  ).optional(),
});

/** {@link DeliverySettingsJson}, validated into a {@link DeliverySettings}. */
export const DeliverySettingsSchema = DeliverySettingsJson.transform((s): DeliverySettings => ({
  ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
  ...(s.rate_limit !== undefined ? { rateLimit: s.rate_limit } : {}),
  ...(s.retry_schedule !== undefined ? { retrySchedule: s.retry_schedule } : {}),
}));

/** The settings as the admin API shows them (the shape {@link DeliverySettingsSchema} reads). */
export function deliverySettingsJson(s: DeliverySettings): Record<string, unknown> {
  return {
    ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
    ...(s.rateLimit !== undefined ? { rate_limit: s.rateLimit } : {}),
    ...(s.retrySchedule !== undefined ? { retry_schedule: s.retrySchedule } : {}),
  };
}
