/**
 * Wiring: configuration + store + clock + fetch → destinations, delivery worker and HTTP handler.
 * Tests build the whole relay here with a `:memory:` store and stub servers; `main.ts` builds it
 * from the real environment.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { type Clock, systemClock } from "./delivery/clock.ts";
import { createRetentionTask, type RetentionTask } from "./delivery/retention.ts";
import { createWorker, type Worker } from "./delivery/worker.ts";
import { createAdminRoutes } from "./admin/api.ts";
import { buildOpenApi } from "./admin/openapi.ts";
import { createConsole } from "./console/mod.ts";
import { createDestinations } from "./destinations/create.ts";
import type { Destination } from "./destinations/destination.ts";
import type { DestinationSet } from "./destinations/set.ts";
import { adminAuth } from "./http/auth.ts";
import { createRoutes } from "./http/routes.ts";
import { createRelayMetrics, type RelayMetrics } from "./metrics.ts";
import { VERSION } from "./version.ts";
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

/** A built relay: serve `handler`, `start()` to deliver, `close()` to stop cleanly. */
export interface App {
  /** `info` (the connection) lets rejections be logged with the remote address. */
  readonly handler: (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;
  readonly worker: Worker;
  /** Purges finished messages past retention, on its own timer. */
  readonly retention: RetentionTask;
  readonly destinations: readonly Destination[];
  /** The environment's destinations plus those added through the admin API. */
  readonly destinationSet: DestinationSet;
  readonly metrics: RelayMetrics;
  readonly store: Store;
  /** Starts delivery and the retention task. */
  start(): void;
  /** Stops delivery (in-flight sends finish) and closes the store. */
  close(): Promise<void>;
}

/** Builds the relay. Delivery does not start until `start()`. */
export function createApp(deps: AppDeps): App {
  const { config, store } = deps;
  const clock = deps.clock ?? systemClock;
  const fetchFn = deps.fetch ?? fetch;
  const now = () => clock.now();
  const destinationSet = createDestinations(config, {
    fetch: fetchFn,
    now,
    store,
    configured: deps.destinations,
    refreshMs: deps.subscriptionsRefreshMs,
  });
  const destinations = destinationSet.configured;
  const metrics = createRelayMetrics(store, {
    now,
    version: VERSION,
    destinations: async () => (await destinationSet.list()).map((d) => d.id),
  });
  const retention = createRetentionTask({
    store,
    retentionMs: config.delivery.retentionMs,
    now,
    onOverdue: (count) => metrics.retentionOverdue.set(count),
  });
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
    // Every destination takes messages, a disabled one too: they are held until it is re-enabled.
    destinations: destinationSet.list,
    metrics,
    now,
    maxBodyBytes: config.maxBodyBytes,
    bodyTimeoutMs: config.bodyTimeoutMs,
    dedupeWindowMs: config.delivery.dedupeWindowMs,
    authToken: config.authToken,
    metricsToken: config.metricsToken,
    onAccepted: (envelope, body) => worker.wake({ envelope, body }),
    onRequest: () => worker.catchUp(),
    slackSigningSecret: config.slack.signingSecret,
  });
  // The admin API's description: public, registered before the authentication middleware so that
  // it answers first (it holds nothing secret, and clients fetch it before they have a token).
  routes.get("/api/v1/openapi.json", (c) => c.json(buildOpenApi()));
  // The admin API: mounted here, in one place, behind its own authentication.
  routes.use("/api/v1/*", adminAuth(config.adminToken));
  routes.route(
    "/api/v1",
    createAdminRoutes({
      store,
      destinations: destinationSet,
      allowPrivate: config.allowPrivateDestinations,
      onPauseChanged: () => worker.settingsChanged(),
      onRequeued: () => worker.wake(),
      now,
    }),
  );
  // The console reaches the admin API through the relay's own handler, as a browser would.
  routes.route(
    "/ui",
    createConsole({ token: config.adminToken, handler: (req) => routes.fetch(req), now }),
  );
  let closed: Promise<void> | undefined;
  return {
    handler: async (req, info) => await routes.fetch(req, info),
    worker,
    retention,
    destinations,
    destinationSet,
    metrics,
    store,
    start() {
      worker.start();
      retention.start();
    },
    close() {
      closed ??= (async () => {
        await Promise.all([worker.stop(), retention.stop()]);
        await store.close();
      })();
      return closed;
    },
  };
}
