/**
 * The destinations in force: the environment's and the config file's, then the subscriptions the
 * admin API stored. The receiver, the worker and the admin API all read this one merged list, so a
 * subscription takes effect without a restart and across replicas.
 *
 * @module
 */
import { parseEventFilter } from "../coder.ts";
import type { Destination } from "./destination.ts";
import { logger } from "../log.ts";
import type { Sink } from "../sinks/sink.ts";
import {
  StoreUnavailableError,
  type SubscriptionRecord,
  type Subscriptions,
} from "../store/store.ts";

/** The destinations in force: the environment's, then the API's. */
export interface DestinationSet {
  /** Fresh enough: returned at once; stale (older than `refreshMs`): re-read from the store first. */
  list(): readonly Destination[] | Promise<readonly Destination[]>;
  /** Reads subscriptions again, from a read that starts after this call (after an API change). */
  reload(): Promise<readonly Destination[]>;
  /** The environment's destinations. */
  readonly configured: readonly Destination[];
  /** Builds a subscription's sink; throws for a type or configuration this build cannot use. */
  build(sub: SubscriptionRecord): Sink;
}

/** What {@linkcode createDestinationSet} needs. */
export interface DestinationSetDeps {
  readonly configured: readonly Destination[];
  readonly store: Pick<Subscriptions, "listSubscriptions" | "closeDeliveries">;
  /** Builds a subscription's sink; may throw for a type this build cannot deliver to. */
  readonly build: (sub: SubscriptionRecord) => Sink;
  readonly now: () => number;
  /** How long a read of the subscriptions is trusted: the delay before another replica's change. */
  readonly refreshMs?: number;
}

const log = logger("subscriptions");

/** Keeps the merged list; sinks are rebuilt only when their subscription changes. */
export function createDestinationSet(deps: DestinationSetDeps): DestinationSet {
  const refreshMs = deps.refreshMs ?? 5000;
  const built = new Map<string, { updatedAt: number; destination?: Destination }>();
  let current: readonly Destination[] | undefined;
  let loadedAt = 0;
  let loading: Promise<readonly Destination[]> | undefined;
  let queued: Promise<readonly Destination[]> | undefined;
  /** Queues of deleted subscriptions being closed: apart from reads, so webhooks never wait. */
  let closing: Promise<unknown> = Promise.resolve();

  function toDestination(sub: SubscriptionRecord): Destination | undefined {
    const cached = built.get(sub.id);
    if (cached?.updatedAt === sub.updatedAt) return cached.destination;
    let destination: Destination | undefined;
    try {
      destination = {
        id: sub.id,
        type: sub.type,
        events: parseEventFilter(sub.eventTypes),
        enabled: sub.enabled,
        source: "api",
        description: sub.name,
        delivery: sub.delivery,
        sink: deps.build(sub),
      };
    } catch (err) {
      log.warn("subscription {id} ({type}) is not delivered: {error}", {
        id: sub.id,
        type: sub.type,
        error: (err as Error).message,
      });
    }
    built.set(sub.id, { updatedAt: sub.updatedAt, destination });
    return destination;
  }

  async function load(): Promise<readonly Destination[]> {
    // A store that cannot be read cannot take the webhook either: 503, so that Coder retries.
    const subs = await deps.store.listSubscriptions().catch((err) => {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`cannot read webhook subscriptions: ${err.message}`, {
        cause: err,
      });
    });
    const ids = new Set(subs.map((s) => s.id));
    const removed = [...built.keys()].filter((id) => !ids.has(id));
    for (const id of removed) built.delete(id);
    const fromApi = subs.flatMap((s) => toDestination(s) ?? []);
    current = [...deps.configured, ...fromApi];
    loadedAt = deps.now();
    // Deleted, here or on another replica: from now on this process queues nothing more for it,
    // so what it still has queued can be closed instead of waiting for the retention purge.
    if (removed.length > 0) closing = Promise.all([closing, ...removed.map(closeQueued)]);
    return current;
  }

  async function closeQueued(id: string) {
    try {
      const closed = await deps.store.closeDeliveries(id, deps.now());
      if (closed > 0) {
        log.info("closed {closed} open deliveries to deleted subscription {id}", { closed, id });
      }
    } catch (err) {
      log.warn("could not close the open deliveries to deleted subscription {id}: {error}", {
        id,
        error: (err as Error).message,
      });
    }
  }

  function read(): Promise<readonly Destination[]> {
    const started: Promise<readonly Destination[]> = load().finally(() => {
      if (loading === started) loading = undefined;
    });
    loading = started;
    return started;
  }

  /**
   * A read already under way may have begun before the caller's change, so it is not joined: one
   * more read is queued behind it, shared by every caller that arrives meanwhile.
   */
  function readAfterNow(): Promise<readonly Destination[]> {
    if (!loading) return read();
    queued ??= loading.catch(() => {}).then(() => {
      queued = undefined;
      // Any read started since then began after every change this queue stands for.
      return loading ?? read();
    });
    return queued;
  }

  /** A fresh read; once it resolves, a deletion it saw has closed its queue too. */
  async function reload(): Promise<readonly Destination[]> {
    const list = await readAfterNow();
    await closing;
    return list;
  }

  return {
    configured: deps.configured,
    build: deps.build,
    list() {
      return current && deps.now() - loadedAt < refreshMs ? current : loading ?? read();
    },
    reload,
  };
}
