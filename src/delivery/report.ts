/**
 * What the worker tells operators about each attempt: the deliveries counter, the latency
 * histogram and one log line, worded by outcome. Kept apart so the worker reads as a loop.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { DeliveryRecord, Outcome } from "../store/store.ts";
import type { PauseCause } from "./breaker.ts";

const log = logger("delivery");

/** One recorded attempt, as reported. */
export interface AttemptReport {
  readonly delivery: DeliveryRecord;
  readonly outcome: Outcome;
  /** The attempt's number (as the policy saw it). */
  readonly attempt: number;
  /** False when the lease was lost and the outcome not recorded. */
  readonly recorded: boolean;
}

/** Counts and logs one attempt. */
export function reportAttempt(
  { delivery: d, outcome, attempt, recorded }: AttemptReport,
  metrics?: RelayMetrics,
): void {
  metrics?.deliveries.inc({ destination: d.destination, state: outcome.state });
  if (outcome.counts !== false) {
    metrics?.deliveryLatency.observe(outcome.latencyMs / 1000, { destination: d.destination });
  }
  const props = {
    msgId: d.msgId,
    event: d.name,
    destination: d.destination,
    state: outcome.state,
    attempt,
    latencyMs: outcome.latencyMs,
    status: outcome.status,
    reason: outcome.reason,
  };
  if (!recorded) {
    log.warn("lease on {msgId} for {destination} was lost; outcome not recorded", props);
  } else if (outcome.state === "sent") {
    log.info("delivered {msgId} ({event}) to {destination} in {latencyMs} ms", props);
  } else if (outcome.state === "temporary_failure") {
    log.info("{msgId} ({event}) to {destination}: {state}, retry {attempt}: {reason}", props);
  } else {
    log.warn("{msgId} ({event}) to {destination}: {state}: {reason}", props);
  }
}

/** Logs a pause the outage breaker started. */
export function reportPause(destination: string, cause: PauseCause): void {
  if (cause.kind === "retry_after") {
    log.warn("{destination} asked to slow down: paused for {ms} ms", { destination, ms: cause.ms });
  } else {
    log.warn("{destination} failed {failures} times in a row: paused for {ms} ms", {
      destination,
      failures: cause.failures,
      ms: cause.ms,
    });
  }
}

/** Logs a destination a sink reported gone. */
export function reportDisabled(destination: string, reason: string): void {
  log.error(
    "{destination} is gone ({reason}): disabled until it is edited or resumed; " +
      "its deliveries are held",
    { destination, reason },
  );
}

/** Logs a delivery that could not be recorded at all (the store failed). */
export function reportRecordFailure(d: DeliveryRecord, err: unknown): void {
  log.error("delivery of {msgId} to {destination} failed to record: {error}", {
    msgId: d.msgId,
    destination: d.destination,
    error: (err as Error).message,
  });
}
