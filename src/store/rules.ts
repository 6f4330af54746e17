/**
 * The rules both backends apply to records, as pure functions: what `accept`, `complete`, a retry,
 * a deletion and the pause switches make of a record, and the listing cursor. One copy, so the
 * backends cannot drift apart.
 *
 * @module
 */
import { normalizeName } from "../coder.ts";
import {
  type AcceptInput,
  type Attempt,
  type DeliveryRecord,
  type DestinationHold,
  HISTORY_LIMIT,
  type Lease,
  type MessageFilter,
  type MessageWithDeliveries,
  type Outcome,
  type PauseState,
  RETRYABLE_STATES,
} from "./records.ts";

/** The status reason of a delivery closed unsent because its destination was deleted. */
export const DELETED_DESTINATION_REASON = "destination deleted before this delivery was sent";

/** An open delivery closed because its destination was deleted: given up, attempts kept. */
export function closedByDeletion(d: DeliveryRecord, now: number): DeliveryRecord {
  return {
    ...d,
    state: "permanent_failure",
    nextAttemptAt: now,
    updatedAt: now,
    statusReason: DELETED_DESTINATION_REASON,
    closedBy: "deletion",
  };
}

/** Whether an operator retry may re-queue `d`: failed or lost, and not closed by a deletion. */
export function isRetryable(d: DeliveryRecord): boolean {
  return RETRYABLE_STATES.has(d.state) && d.closedBy === undefined;
}

/** The delivery an operator retry makes of `d`: due now, attempts start over, history kept. */
export function requeued(d: DeliveryRecord, now: number): DeliveryRecord {
  return {
    ...d,
    state: "pending",
    attempts: 0,
    nextAttemptAt: now,
    updatedAt: now,
    statusReason: `retry requested by an operator (was ${d.state}: ${
      d.statusReason ?? "no reason"
    })`,
  };
}

/** Applies one pause switch; the rule both backends share. */
export function switchPause(
  state: PauseState,
  destination: string | undefined,
  paused: boolean,
  now: number,
): PauseState {
  if (destination === undefined) return { ...state, all: paused, updatedAt: now };
  const others = state.destinations.filter((d) => d !== destination);
  const next = {
    ...state,
    destinations: paused ? [...others, destination] : others,
    updatedAt: now,
  };
  // Resuming a destination is the operator's explicit way to re-enable one a sink disabled.
  return paused ? next : markDisabled(next, destination, null, now);
}

/** Marks a destination disabled (`hold`) or re-enables it (null); the rule both backends share. */
export function markDisabled(
  state: PauseState,
  destination: string,
  hold: DestinationHold | null,
  now: number,
): PauseState {
  const { [destination]: _old, ...others } = state.disabled ?? {};
  return { ...state, disabled: hold ? { ...others, [destination]: hold } : others, updatedAt: now };
}

/** Whether deliveries to `destination` wait: paused by the operator or disabled by its sink. */
export function isHeld(state: PauseState, destination: string): boolean {
  return state.all || state.destinations.includes(destination) ||
    state.disabled?.[destination] !== undefined;
}

/** Position after one message in newest-first order: what a {@link MessagePage} cursor holds. */
export interface CursorPosition {
  readonly receivedAt: number;
  readonly msgId: string;
}

/** A cursor as clients see it: opaque, URL-safe. Backends share it so cursors stay portable. */
export function encodeCursor(at: CursorPosition): string {
  return btoa(JSON.stringify([at.receivedAt, at.msgId])).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Reads a cursor back; throws {@link InvalidCursorError} for anything else. */
export function decodeCursor(cursor: string): CursorPosition {
  try {
    const [receivedAt, msgId] = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (Number.isSafeInteger(receivedAt) && typeof msgId === "string") return { receivedAt, msgId };
  } catch { /* reported below */ }
  throw new InvalidCursorError("cursor is not one this relay issued");
}

/** A cursor that was not issued by `listMessages`: the client's mistake (400). */
export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}

/** Whether a message passes a {@link MessageFilter}'s name, state and destination (not its times). */
export function matchesMessageFilter(m: MessageWithDeliveries, filter: MessageFilter): boolean {
  if (filter.name && normalizeName(m.message.name) !== normalizeName(filter.name)) return false;
  if (!filter.state && !filter.destination) return true;
  return m.deliveries.some((d) =>
    (!filter.state || d.state === filter.state) &&
    (!filter.destination || d.destination === filter.destination)
  );
}

/** Keeps the newest {@link HISTORY_LIMIT} attempts. */
export function appendHistory(history: readonly Attempt[], attempt: Attempt): Attempt[] {
  const next = [...history, attempt];
  return next.length > HISTORY_LIMIT ? next.slice(next.length - HISTORY_LIMIT) : next;
}

/** Why a fan-out copy is not delivered: it names the message that carries the event. */
export function fanoutCopyReason(ownerMsgId: string): string {
  return `same event as message ${ownerMsgId} (fan-out copy)`;
}

/**
 * A delivery as `accept` records it: due at once, or `deduplicated` when `dupOf` (another message)
 * already carries the same event to this destination. Both backends start from this record.
 */
export function newDelivery(
  input: AcceptInput,
  destination: string,
  dupOf?: string,
): DeliveryRecord {
  return {
    msgId: input.msgId,
    destination,
    name: input.name,
    receivedAt: input.receivedAt,
    state: dupOf ? "deduplicated" : "pending",
    attempts: 0,
    nextAttemptAt: input.receivedAt,
    updatedAt: input.receivedAt,
    statusReason: dupOf ? fanoutCopyReason(dupOf) : undefined,
    history: [],
  };
}

/** A leased delivery given back unsent: as it was before the lease, due `now`. */
export function released(l: Lease, now: number): DeliveryRecord {
  return { ...l.delivery, state: l.previous, nextAttemptAt: now, updatedAt: now };
}

/** The delivery after an outcome: the one rule both backends apply. */
export function applyOutcome(d: DeliveryRecord, o: Outcome): DeliveryRecord {
  const attempts = o.counts === false ? d.attempts : d.attempts + 1;
  return {
    ...d,
    state: o.state,
    attempts,
    nextAttemptAt: o.state === "temporary_failure" ? o.nextAttemptAt ?? o.at : o.at,
    updatedAt: o.at,
    statusReason: o.reason,
    history: appendHistory(d.history, {
      at: o.at,
      state: o.state,
      latencyMs: o.latencyMs,
      status: o.status,
      reason: o.reason,
    }),
  };
}
