/**
 * The durable outbox. Everything the relay promises rests on this interface: a message is
 * acknowledged only once `accept` has resolved, and deliveries leave the store only through
 * `lease` → `complete`. Backends: Deno KV ({@link ./kv.ts}) and PostgreSQL ({@link ./postgres.ts}), held to the same
 * contract by `tests/store_contract.ts`.
 *
 * @module
 */
import type {
  AcceptInput,
  AcceptResult,
  DeliveryRecord,
  DestinationHold,
  Lease,
  MessageFilter,
  MessagePage,
  MessageRecord,
  Outcome,
  PauseState,
  QueueStats,
  SubscriptionRecord,
} from "./records.ts";
import type { StatsStore } from "./stats.ts";

export * from "./records.ts";
export * from "./rules.ts";

/** The outbox: what receiving and delivering need. The worker and the receiver depend on this. */
export interface Outbox {
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
  /**
   * Deletes the messages whose deliveries all became final before `before` (a message without
   * deliveries: received before), with their deliveries; returns how many. A message with an open
   * delivery is never purged, however old.
   */
  purge(before: number): Promise<number>;
  /** How many open deliveries were received before `before`: work older than retention. */
  countOpen(before: number): Promise<number>;
}

/** Inspection and operator replay: what the admin API, the CLI and the metrics read. */
export interface MessageLog {
  /** A message and all its deliveries, or null. */
  getMessage(
    msgId: string,
  ): Promise<{ message: MessageRecord; deliveries: DeliveryRecord[] } | null>;
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
   * destination was deleted (`closedBy`) stay closed: nothing would deliver them.
   */
  retry(msgId: string, destination: string | undefined, now: number): Promise<DeliveryRecord[]>;
  /**
   * Re-queues every `permanent_failure` / `unknown` delivery of a destination (as `retry` does, so
   * not those closed by its deletion), except those `skip` resolves true for (they stay as they
   * are); returns the ids of the messages re-queued.
   */
  retryFailed(
    destination: string,
    now: number,
    skip?: (d: DeliveryRecord) => Promise<boolean>,
  ): Promise<string[]>;
  /** Queue depth and oldest queued delivery per destination (only destinations with a queue). */
  queueStats(): Promise<Map<string, QueueStats>>;
}

/** Switches every replica honours: operator pauses and destination health. */
export interface Settings {
  /** The pause switches and disabled destinations; {@link NOT_PAUSED} when never set. */
  getPause(): Promise<PauseState>;
  /**
   * Sets one switch atomically (`destination` undefined: the global one) and returns the result.
   * Resuming one destination also re-enables it if a sink had disabled it.
   */
  setPause(destination: string | undefined, paused: boolean, now: number): Promise<PauseState>;
  /** Marks a destination gone (`hold`) or re-enables it (null), atomically; returns the result. */
  setDisabled(destination: string, hold: DestinationHold | null, now: number): Promise<PauseState>;
}

/** Destinations defined through the admin API. */
export interface Subscriptions {
  /** Every API-defined destination, in creation order. */
  listSubscriptions(): Promise<SubscriptionRecord[]>;
  /** One API-defined destination, or null. */
  getSubscription(id: string): Promise<SubscriptionRecord | null>;
  /** Creates or replaces by `id`. */
  putSubscription(sub: SubscriptionRecord): Promise<void>;
  /** False when there was none. See {@linkcode Subscriptions.closeDeliveries} for its deliveries. */
  deleteSubscription(id: string): Promise<boolean>;
  /**
   * Closes every open delivery (pending, leased, retrying) to a destination that was deleted, with
   * {@link closedByDeletion}, so no queue waits for it; returns how many. Finished deliveries stay,
   * like every message, until purged.
   */
  closeDeliveries(destination: string, now: number): Promise<number>;
}

/**
 * The contract every backend meets (`tests/store_contract.ts` proves it for each): all the roles
 * in one object. Consumers take only the roles they use.
 */
export interface Store extends Outbox, MessageLog, Settings, Subscriptions, StatsStore {
  /** Resolves when the store answers; rejects otherwise. Backs `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The body is larger than the store can hold (a KV commit, even compressed): the receiver answers
 * 413. Declared here, beside the other store errors, so the HTTP layer maps it without knowing which
 * backend raised it.
 */
export class BodyTooLargeForStoreError extends Error {
  override name = "BodyTooLargeForStoreError";
}

/**
 * Thrown by a backend that cannot take writes right now (disk full, database down). The receiver
 * answers 503 so that Coder retries; nothing was acknowledged.
 */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
