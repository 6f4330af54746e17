/**
 * How messages, deliveries and pause switches look from outside: the admin API's JSON and the
 * CLI's `--json` share these presenters (and `schemas.ts`), so the CLI needs no router.
 *
 * @module
 */
import { redactText } from "../redact.ts";
import type { DeliveryRecord, MessageWithDeliveries, PauseState } from "../store/store.ts";

const iso = (ms: number) => new Date(ms).toISOString();
/** A stored reason as shown: secrets and emails hidden (reasons stored by older versions too). */
const reason = (r: string | undefined) => r === undefined ? null : redactText(r);

/** A delivery as the API shows it; `history` only on the single-message view. */
export function deliveryJson(d: DeliveryRecord, withHistory: boolean): Record<string, unknown> {
  return {
    destination: d.destination,
    state: d.state,
    attempts: d.attempts,
    next_attempt_at: d.state === "pending" || d.state === "temporary_failure" ||
        d.state === "leased"
      ? iso(d.nextAttemptAt)
      : null,
    updated_at: iso(d.updatedAt),
    status_reason: reason(d.statusReason),
    ...(withHistory
      ? {
        history: d.history.map((a) => ({
          at: iso(a.at),
          state: a.state,
          status_code: a.status ?? null,
          latency_ms: a.latencyMs,
          status_reason: reason(a.reason),
        })),
      }
      : {}),
  };
}

/** A message with its deliveries, as the API and `messages --json` show it. */
export function messageJson(m: MessageWithDeliveries, withHistory: boolean) {
  return {
    msg_id: m.message.msgId,
    event: m.message.name,
    received_at: iso(m.message.receivedAt),
    size: m.message.size,
    deliveries: m.deliveries.map((d) => deliveryJson(d, withHistory)),
  };
}

/** Pause switches as the API shows them. */
export function pauseJson(p: PauseState) {
  return {
    paused: p.all,
    paused_destinations: p.destinations,
    // Destinations a sink reported gone: their deliveries are held until edited or resumed.
    disabled_destinations: Object.fromEntries(
      Object.entries(p.disabled ?? {}).map((
        [id, h],
      ) => [id, { reason: reason(h.reason), at: iso(h.at) }]),
    ),
    updated_at: p.updatedAt ? iso(p.updatedAt) : null,
  };
}
