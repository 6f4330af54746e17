/**
 * The durable outbox. Everything the relay promises rests on this interface: a message is
 * acknowledged only once `accept` has resolved, and deliveries leave the store only through
 * `lease` → `complete`. Backends: Deno KV ({@link ./kv.ts}) and PostgreSQL ({@link ./postgres.ts}), held to the same
 * contract by `tests/store_contract.ts`.
 *
 * @module
 */
import { normalizeName } from "../coder.ts";

/**
 * A delivery's state, mirroring Coder's own message states, plus two of ours:
 * `unknown` (a request went out but its answer was lost: not resent, since the destination cannot
 * dedupe) and `deduplicated` (another recipient's copy of the same event already carries it).
 */
export type DeliveryState =
  | "pending"
  | "leased"
  | "sent"
  | "temporary_failure"
  | "permanent_failure"
  | "unknown"
  | "deduplicated";

/** States after which nothing more happens unless an operator replays the delivery. */
export const FINAL_STATES: ReadonlySet<DeliveryState> = new Set([
  "sent",
  "permanent_failure",
  "unknown",
  "deduplicated",
]);

/**
 * How many attempts a delivery keeps in its history; older ones are dropped (values stay small:
 * 32 attempts with 300-character reasons stay near 15 KB, under KV's 64 KiB). Enough for every
 * attempt of a delivery that gives up at the default `RELAY_MAX_ATTEMPTS` plus a replay.
 */
export const HISTORY_LIMIT = 32;

/** One try at a destination, kept for inspection. */
export interface Attempt {
  readonly at: number;
  readonly state: DeliveryState;
  readonly latencyMs: number;
  readonly status?: number;
  readonly reason?: string;
}

/** The stored message, without its body. */
export interface MessageRecord {
  readonly msgId: string;
  /** First receipt, ms since epoch: the event time for every destination, kept through retries. */
  readonly receivedAt: number;
  /** The notification name as Coder spelled it. */
  readonly name: string;
  /** Size of the raw body in bytes. */
  readonly size: number;
}

/** One message bound for one destination. */
export interface DeliveryRecord {
  readonly msgId: string;
  readonly destination: string;
  readonly name: string;
  readonly receivedAt: number;
  readonly state: DeliveryState;
  /** Attempts made so far. */
  readonly attempts: number;
  /** When the delivery is next due; for `leased`, when the lease expires. */
  readonly nextAttemptAt: number;
  readonly updatedAt: number;
  readonly statusReason?: string;
  readonly history: readonly Attempt[];
}

/** What a receiver hands the store: the raw body and the destinations it routes to. */
export interface AcceptInput {
  readonly msgId: string;
  readonly receivedAt: number;
  readonly name: string;
  readonly body: Uint8Array;
  readonly destinations: readonly {
    readonly id: string;
    /** Set for destinations that cannot dedupe fan-out copies themselves. */
    readonly eventKey?: string;
  }[];
  /** How long an event key suppresses copies of the same event. */
  readonly dedupeWindowMs: number;
}

/** The outcome of `accept`: stored now, or stored before (a Coder retry). */
export type AcceptResult =
  | { readonly status: "created"; readonly deliveries: readonly DeliveryRecord[] }
  | { readonly status: "duplicate"; readonly receivedAt: number };

/** A delivery this worker now owns until `delivery.nextAttemptAt`. */
export interface Lease {
  readonly delivery: DeliveryRecord;
  /**
   * Whether an earlier lease on this delivery expired unfinished: a worker may have died mid-send,
   * so a destination that cannot dedupe must not be sent it again blindly.
   */
  readonly expired: boolean;
  /** Opaque proof of ownership, checked by `complete` and `release`. */
  readonly token: string;
  /** The state the delivery had before this lease, which `release` puts back. */
  readonly previous: DeliveryState;
}

/** The result of one attempt, as the worker records it. */
export interface Outcome {
  readonly state: "sent" | "temporary_failure" | "permanent_failure" | "unknown";
  readonly at: number;
  readonly latencyMs: number;
  readonly status?: number;
  readonly reason?: string;
  /** For `temporary_failure`: when to try again. */
  readonly nextAttemptAt?: number;
  /** False for an attempt that never started (an expired lease settled as `unknown`). */
  readonly counts?: boolean;
}

/** States an operator may retry: given up, or answer lost. Also brings a pending retry forward. */
export const RETRYABLE_STATES: ReadonlySet<DeliveryState> = new Set([
  "permanent_failure",
  "unknown",
  "temporary_failure",
]);

/** States `retryFailed` re-queues: the delivery was given up, or its answer lost. */
export const GIVEN_UP_STATES: ReadonlySet<DeliveryState> = new Set([
  "permanent_failure",
  "unknown",
]);

/** Which messages `listMessages` returns; every field narrows, none is required. */
export interface MessageFilter {
  /** Only messages with a delivery in this state (to `destination` when that is set too). */
  readonly state?: DeliveryState;
  /** Only messages with a delivery to this destination. */
  readonly destination?: string;
  /** Only this notification name (compared as `normalizeName` does). */
  readonly name?: string;
  /** Received at or after, ms since epoch. */
  readonly since?: number;
  /** Received before, ms since epoch. */
  readonly until?: number;
}

/** A message with its deliveries, as the admin API and the CLI show it. */
export interface MessageWithDeliveries {
  readonly message: MessageRecord;
  readonly deliveries: DeliveryRecord[];
}

/**
 * One page of messages, newest first. `cursor` is opaque (a key, not an offset, so pages stay
 * stable while messages arrive); absent on the last page.
 */
export interface MessagePage {
  readonly items: MessageWithDeliveries[];
  readonly cursor?: string;
}

/** Per-destination queue figures for metrics: deliveries not yet final and the oldest one. */
export interface QueueStats {
  readonly depth: number;
  /** Receipt time of the oldest delivery still queued, ms since epoch. */
  readonly oldestReceivedAt?: number;
}

/** Operator pause switches; they persist so that a restart or another replica honours them. */
export interface PauseState {
  /** Every destination is paused. */
  readonly all: boolean;
  /** Destinations paused one by one. */
  readonly destinations: readonly string[];
  readonly updatedAt: number;
}

/** No pause: what a fresh store reports. */
export const NOT_PAUSED: PauseState = Object.freeze({ all: false, destinations: [], updatedAt: 0 });

/**
 * A destination defined through the admin API. `configuration` holds the secrets in clear: the
 * store is the trust boundary, the API redacts them on the way out.
 */
export interface SubscriptionRecord {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly eventTypes: readonly string[];
  readonly configuration: Readonly<Record<string, unknown>>;
  readonly enabled: boolean;
  readonly organization?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The contract every backend meets; `tests/store_contract.ts` proves it for each. */
export interface Store {
  /**
   * Stores the message and one delivery per destination in one atomic, durable write. Idempotent on
   * `msgId`; destinations whose event key is already live are recorded as `deduplicated`.
   */
  accept(input: AcceptInput): Promise<AcceptResult>;
  /** Leases up to `limit` due deliveries of one destination until `now + leaseMs`. */
  lease(destination: string, now: number, limit: number, leaseMs: number): Promise<Lease[]>;
  /** Records an attempt; false when the lease was lost (another worker owns the delivery now). */
  complete(lease: Lease, outcome: Outcome): Promise<boolean>;
  /**
   * Gives back leases that were never sent (a worker leases ahead, then is paused or stops): each
   * delivery still held by its lease returns to its `previous` state, due `now`, with no attempt
   * recorded. One commit for all when nothing conflicts; returns how many were given back.
   */
  release(leases: readonly Lease[], now: number): Promise<number>;
  /** The raw body Coder sent, or null once purged. */
  getBody(msgId: string): Promise<Uint8Array | null>;
  /** A message and all its deliveries, or null. */
  getMessage(
    msgId: string,
  ): Promise<{ message: MessageRecord; deliveries: DeliveryRecord[] } | null>;
  /** Deletes messages received before `before`, with their deliveries; returns how many. */
  purge(before: number): Promise<number>;
  /**
   * Messages newest first, filtered, at most `limit` per page. A backend may return fewer than
   * `limit` items with a cursor (it bounds the work of one page); callers follow the cursor.
   */
  listMessages(
    filter: MessageFilter,
    page: { cursor?: string; limit: number },
  ): Promise<MessagePage>;
  /**
   * Re-queues the deliveries of one message in a {@link RETRYABLE_STATES} state (only the one to
   * `destination` when given) as `pending`, due `now`, attempts reset and history kept. Returns the
   * re-queued records; empty when there was nothing to retry. Deliveries closed because their
   * destination was deleted ({@link closedByDeletion}) stay closed: nothing would deliver them.
   */
  retry(msgId: string, destination: string | undefined, now: number): Promise<DeliveryRecord[]>;
  /**
   * Re-queues every `permanent_failure` / `unknown` delivery of a destination (as `retry` does, so
   * not those closed by its deletion); returns how many.
   */
  retryFailed(destination: string, now: number): Promise<number>;
  /** Queue depth and oldest queued delivery per destination (only destinations with a queue). */
  queueStats(): Promise<Map<string, QueueStats>>;
  /** The pause switches; {@link NOT_PAUSED} when never set. */
  getPause(): Promise<PauseState>;
  /** Sets one switch atomically (`destination` undefined: the global one) and returns the result. */
  setPause(destination: string | undefined, paused: boolean, now: number): Promise<PauseState>;
  /** Every API-defined destination, in creation order. */
  listSubscriptions(): Promise<SubscriptionRecord[]>;
  /** One API-defined destination, or null. */
  getSubscription(id: string): Promise<SubscriptionRecord | null>;
  /** Creates or replaces by `id`. */
  putSubscription(sub: SubscriptionRecord): Promise<void>;
  /** False when there was none. See {@linkcode Store.closeDeliveries} for its deliveries. */
  deleteSubscription(id: string): Promise<boolean>;
  /**
   * Closes every open delivery (pending, leased, retrying) to a destination that was deleted, with
   * {@link closedByDeletion}, so no queue waits for it; returns how many. Finished deliveries stay,
   * like every message, until purged.
   */
  closeDeliveries(destination: string, now: number): Promise<number>;
  /** Resolves when the store answers; rejects otherwise. Backs `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Thrown by a backend that cannot take writes right now (disk full, database down). The receiver
 * answers 503 so that Coder retries; nothing was acknowledged.
 */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/** Why a delivery was closed unsent: its destination was deleted. Shared by both backends. */
export const DELETED_DESTINATION_REASON = "destination deleted before this delivery was sent";

/** An open delivery closed because its destination was deleted: given up, attempts kept. */
export function closedByDeletion(d: DeliveryRecord, now: number): DeliveryRecord {
  return {
    ...d,
    state: "permanent_failure",
    nextAttemptAt: now,
    updatedAt: now,
    statusReason: DELETED_DESTINATION_REASON,
  };
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
  return { ...state, destinations: paused ? [...others, destination] : others, updatedAt: now };
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
