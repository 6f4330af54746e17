/**
 * The records the store keeps and hands out, and the delivery states with the lists both backends
 * build their queries from. Types and constants only: the rules are in {@link ./rules.ts}, the
 * contract in {@link ./store.ts}.
 *
 * @module
 */
import type { DeliverySettings } from "../destinations/delivery.ts";

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

/**
 * States of a delivery still to be made: due, being sent, or waiting to retry. The one list both
 * backends build their queries from (PostgreSQL's partial index `relay_deliveries_due` carries it
 * literally: see {@link OPEN_STATES_SQL}).
 */
export const OPEN_STATE_LIST = ["pending", "leased", "temporary_failure"] as const;

/** {@link OPEN_STATE_LIST} as a set. */
export const OPEN_STATES: ReadonlySet<DeliveryState> = new Set(OPEN_STATE_LIST);

/** States after which nothing more happens unless an operator replays the delivery. */
export const FINAL_STATE_LIST = ["sent", "permanent_failure", "unknown", "deduplicated"] as const;

/** {@link FINAL_STATE_LIST} as a set. */
export const FINAL_STATES: ReadonlySet<DeliveryState> = new Set(FINAL_STATE_LIST);

/**
 * {@link OPEN_STATE_LIST} as an SQL list literal, `('pending', 'leased', 'temporary_failure')`: a
 * query must repeat a partial index's predicate literally (not as a parameter) for the planner to
 * use the index.
 */
export const OPEN_STATES_SQL = `(${OPEN_STATE_LIST.map((s) => `'${s}'`).join(", ")})`;

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
  /**
   * Set when the delivery was closed because its destination was deleted: nothing could deliver
   * it, so operator retries leave it alone.
   */
  readonly closedBy?: "deletion";
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

/** Why and since when a destination is held: it answered that it is gone (HTTP 410 and the like). */
export interface DestinationHold {
  readonly reason: string;
  readonly at: number;
}

/**
 * Operator pause switches and destination health; they persist so that a restart or another
 * replica honours them. Deliveries to a paused or disabled destination are still accepted and wait
 * (`pending`) until it is resumed or edited.
 */
export interface PauseState {
  /** Every destination is paused. */
  readonly all: boolean;
  /** Destinations paused one by one. */
  readonly destinations: readonly string[];
  /** Destinations a sink reported gone, by id; absent in values stored before 0.2. */
  readonly disabled?: Readonly<Record<string, DestinationHold>>;
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
  /** Its own concurrency, rate limit and retry schedule (`destinations/delivery.ts`). */
  readonly delivery?: DeliverySettings;
  readonly createdAt: number;
  readonly updatedAt: number;
}
