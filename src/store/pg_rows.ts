/**
 * PostgreSQL rows as the records both backends hand out.
 *
 * @module
 */
import type {
  Attempt,
  DeliveryRecord,
  DeliveryState,
  MessageRecord,
  MessageWithDeliveries,
} from "./store.ts";

/** A `relay_deliveries` row, from the driver or from `json_agg`. */
export interface DeliveryRow {
  readonly msg_id: string;
  readonly destination: string;
  readonly name: string;
  readonly received_at: number;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly updated_at: number;
  readonly status_reason: string | null;
  readonly history: readonly Attempt[];
  readonly closed_by: "deletion" | null;
  readonly version: number;
}

/** What `createPostgresStore`'s `messageColumns` select. */
export interface MessageRow {
  readonly msg_id: string;
  readonly received_at: number;
  readonly name: string;
  readonly size: number;
  readonly deliveries: DeliveryRow[];
}

/** A message row with its aggregated deliveries as a record. */
export function toMessageWithDeliveries(r: MessageRow): MessageWithDeliveries {
  const message: MessageRecord = {
    msgId: r.msg_id,
    receivedAt: r.received_at,
    name: r.name,
    size: r.size,
  };
  return { message, deliveries: r.deliveries.map(toDelivery) };
}

/** A row (from the driver or from `json_agg`) as the record both backends hand out. */
export function toDelivery(r: DeliveryRow): DeliveryRecord {
  return {
    msgId: r.msg_id,
    destination: r.destination,
    name: r.name,
    receivedAt: Number(r.received_at),
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at),
    updatedAt: Number(r.updated_at),
    statusReason: r.status_reason ?? undefined,
    history: r.history.map((a) => ({
      at: a.at,
      state: a.state,
      latencyMs: a.latencyMs,
      status: a.status,
      reason: a.reason,
    })),
    ...(r.closed_by ? { closedBy: r.closed_by } : {}),
  };
}

/** Code-unit order, the same everywhere (locale collations differ between servers). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
