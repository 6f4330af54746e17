/**
 * How messages, deliveries and pause switches look from outside: the admin API's JSON and the
 * CLI's `--json` share these presenters and the message query schema, so the CLI needs no router.
 *
 * @module
 */
import { z } from "zod";
import type {
  DeliveryRecord,
  DeliveryState,
  MessageWithDeliveries,
  PauseState,
} from "../store/store.ts";

const iso = (ms: number) => new Date(ms).toISOString();

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
    status_reason: d.statusReason ?? null,
    ...(withHistory
      ? {
        history: d.history.map((a) => ({
          at: iso(a.at),
          state: a.state,
          status_code: a.status ?? null,
          latency_ms: a.latencyMs,
          status_reason: a.reason ?? null,
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
      Object.entries(p.disabled ?? {}).map(([id, h]) => [id, { reason: h.reason, at: iso(h.at) }]),
    ),
    updated_at: p.updatedAt ? iso(p.updatedAt) : null,
  };
}

const STATES = [
  "pending",
  "leased",
  "sent",
  "temporary_failure",
  "permanent_failure",
  "unknown",
  "deduplicated",
] as const satisfies readonly DeliveryState[];

/** A time as ISO 8601 or ms since epoch. */
const time = z.string().trim().transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "expected an ISO 8601 time or ms since epoch" });
    return z.NEVER;
  }
  return ms;
});

/** `GET /messages` query parameters. */
export const MessageQuerySchema = z.object({
  state: z.enum(STATES, { error: `expected one of ${STATES.join(", ")}` }).optional(),
  destination: z.string().trim().min(1).optional(),
  event: z.string().trim().min(1).optional(),
  since: time.optional(),
  until: time.optional(),
  limit: z.string().regex(/^\d+$/, "expected a whole number").transform(Number)
    .pipe(z.number().int().min(1).max(500)).default(50),
  cursor: z.string().min(1).optional(),
});
