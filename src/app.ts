/**
 * Wiring: configuration + store + clock + fetch → destinations, delivery worker and HTTP handler.
 * Tests build the whole relay here with a `:memory:` store and stub servers; `main.ts` builds it
 * from the real environment.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { type Clock, createWorker, type Worker } from "./delivery/worker.ts";
import { createDestinationSet, type DestinationSet } from "./admin/subscriptions.ts";
import {
  createSink,
  type Destination,
  destinationsFromConfig,
  sinkDepsFromConfig,
} from "./destinations.ts";
import { createRoutes } from "./http/routes.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics.ts";
import type { Fetch } from "./sinks/http.ts";
import type { Store } from "./store/store.ts";

/** What the relay is made of; everything that touches the outside world is injected. */
export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly clock?: Clock;
  readonly fetch?: Fetch;
  /** Replaces the destinations the configuration defines. */
  readonly destinations?: readonly Destination[];
  readonly random?: () => number;
  /** How long the list of API-defined destinations is trusted before it is re-read. */
  readonly subscriptionsRefreshMs?: number;
}

/** A built relay: serve `handler`, `worker.start()` to deliver, `close()` to stop cleanly. */
export interface App {
  readonly handler: (req: Request) => Promise<Response>;
  readonly worker: Worker;
  readonly destinations: readonly Destination[];
  /** The environment's destinations plus those added through the admin API. */
  readonly destinationSet: DestinationSet;
  readonly metrics: RelayMetrics;
  readonly store: Store;
  /** Stops delivery (in-flight sends finish) and closes the store. */
  close(): Promise<void>;
}

/** Builds the relay. Delivery does not start until `worker.start()`. */
export function createApp(deps: AppDeps): App {
  const { config, store } = deps;
  const clock = deps.clock ?? { now: () => Date.now() };
  const fetchFn = deps.fetch ?? fetch;
  const now = () => clock.now();
  const sinkDeps = sinkDepsFromConfig(config, { fetch: fetchFn, now });
  const destinations = deps.destinations ?? destinationsFromConfig(sinkDeps);
  const destinationSet = createDestinationSet({
    configured: destinations,
    store,
    build: (sub) => createSink(sub.type, sub.configuration, sinkDeps),
    now,
    refreshMs: deps.subscriptionsRefreshMs,
  });
  const metrics = createRelayMetrics(store, now);
  const worker = createWorker({
    store,
    destinations: destinationSet.list,
    config: config.delivery,
    clock,
    random: deps.random,
    metrics,
  });
  const routes = createRoutes({
    store,
    // A destination a sink disabled (410) takes no new messages until it is edited or restarted.
    destinations: async () => (await destinationSet.list()).filter((d) => !worker.isDisabled(d)),
    metrics,
    admin: {
      store,
      token: config.adminToken,
      destinations: destinationSet,
      buildSink: (sub) => createSink(sub.type, sub.configuration, sinkDeps),
      onPauseChanged: () => worker.pauseChanged(),
      onRequeued: () => worker.poke(),
      now,
      isDisabled: (d) => worker.isDisabled(d),
    },
    now,
    maxBodyBytes: config.maxBodyBytes,
    dedupeWindowMs: config.delivery.dedupeWindowMs,
    authToken: config.authToken,
    metricsToken: config.metricsToken,
    onAccepted: () => worker.poke(),
    onRequest: () => worker.nudge(),
    slackSigningSecret: config.slack.signingSecret,
  });
  let closed: Promise<void> | undefined;
  return {
    handler: async (req) => await routes.fetch(req),
    worker,
    destinations,
    destinationSet,
    metrics,
    store,
    close() {
      closed ??= (async () => {
        await worker.stop();
        await store.close();
      })();
      return closed;
    },
  };
}
