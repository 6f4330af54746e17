/**
 * Delivery statistics: per destination and minute, how many deliveries were sent, failed and
 * retried, and a latency histogram. The worker adds to them as it records outcomes; the overview
 * reads a day of them, about 1,440 small rows per destination, never the messages themselves.
 *
 * @module
 */
import { logger } from "../log.ts";

/** What one attempt counts as. */
export type OutcomeKind = "sent" | "failed" | "retried";

/** Upper bounds of the latency buckets, ms; one more bucket holds everything slower. */
export const LATENCY_BUCKETS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

/** How long minute counters are kept: a day, plus an hour of slack for the oldest page view. */
export const STATS_RETENTION_MS = 25 * 3600_000;

/** One counter: a minute, a destination and a field (`sent`, `failed`, `retried`, `l0`…`l11`). */
export interface StatCount {
  /** The minute's start, ms since epoch. */
  readonly minute: number;
  readonly destination: string;
  readonly field: string;
  readonly count: number;
}

/** The store's statistics role; `tests/store_contract.ts` checks it for each backend. */
export interface StatsStore {
  /** Adds one attempt's outcome to its minute's counters (atomically, across replicas). */
  recordOutcome(
    destination: string,
    at: number,
    kind: OutcomeKind,
    latencyMs: number,
  ): Promise<void>;
  /** Every counter of minutes at or after `since`; older ones are dropped as time passes. */
  minuteCounts(since: number): Promise<StatCount[]>;
}

/** A minute's start. */
export const minuteOf = (ms: number): number => Math.floor(ms / 60_000) * 60_000;

/** The kind of an outcome; leases and deduplications are not outcomes. */
export function outcomeKind(state: string): OutcomeKind | undefined {
  if (state === "sent") return "sent";
  if (state === "temporary_failure") return "retried";
  if (state === "permanent_failure" || state === "unknown") return "failed";
  return undefined;
}

/** The two counters one attempt adds to: its outcome and its latency bucket. */
export function fieldsOf(kind: OutcomeKind, latencyMs: number): [string, string] {
  const i = LATENCY_BUCKETS_MS.findIndex((b) => latencyMs <= b);
  return [kind, `l${i < 0 ? LATENCY_BUCKETS_MS.length : i}`];
}

/**
 * A latency quantile from bucket counts (`l0`…), as the upper bound of the bucket it falls in
 * (the slowest bucket reports its lower bound); null without data.
 */
export function latencyQuantile(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= rank) return LATENCY_BUCKETS_MS[Math.min(i, LATENCY_BUCKETS_MS.length - 1)];
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}

const log = logger("stats");

/**
 * Counts one recorded attempt. Statistics are not worth a failed delivery: an error is logged and
 * the worker goes on.
 */
export async function recordStats(
  store: StatsStore,
  destination: string,
  outcome: { readonly state: string; readonly at: number; readonly latencyMs: number },
): Promise<void> {
  const kind = outcomeKind(outcome.state);
  if (!kind) return;
  try {
    await store.recordOutcome(destination, outcome.at, kind, outcome.latencyMs);
  } catch (err) {
    log.warn("could not count an outcome to {destination}: {error}", {
      destination,
      error: (err as Error).message,
    });
  }
}
