/**
 * Building the relay's destinations from its configuration: those environment variables define,
 * those the `RELAY_CONFIG` file defines, and (through {@linkcode createDestinations}) the admin
 * API's subscriptions, all through the registry's one sink factory.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { createCoderResolver } from "../identity.ts";
import type { Fetch } from "../sinks/http.ts";
import type { Store } from "../store/store.ts";
import type { Destination } from "./destination.ts";
import { createSink, DESCRIPTORS, type RegistrySettings } from "./registry.ts";
import { createDestinationSet, type DestinationSet } from "./set.ts";
import type { SinkDeps } from "../sinks/type.ts";
import { fetchForSource } from "../net/guarded_fetch.ts";

/** The I/O building destinations needs besides the configuration. */
export interface DestinationIo {
  readonly fetch: Fetch;
  readonly now: () => number;
}

/**
 * The sink deps for one relay. Built once, so that every destination that looks Coder users up
 * (from the environment, the config file or the admin API) shares one lookup and its cache.
 */
export function sinkDepsFromConfig(config: Config, io: DestinationIo): SinkDeps<Config> {
  const { coder, delivery } = config;
  const resolver = coder.url && coder.sessionToken
    ? createCoderResolver({
      url: coder.url,
      sessionToken: coder.sessionToken,
      fetch: io.fetch,
      now: io.now,
      timeoutMs: delivery.sendTimeoutMs,
    })
    : undefined;
  return { ...io, timeoutMs: delivery.sendTimeoutMs, resolver, settings: config };
}

/**
 * The destinations the environment and the `RELAY_CONFIG` file define, in registry order, then the
 * file's. PlatformX is always there (dry run without a key). Env ids are the type names.
 */
export function destinationsFromConfig(deps: SinkDeps<Config>): Destination[] {
  // Passing `SinkDeps<Config>` where `SinkDeps<RegistrySettings>` is expected is the compile-time
  // check that the configuration has every setting a registered type reads.
  const typed: SinkDeps<RegistrySettings> = deps;
  const out: Destination[] = [];
  for (const type of DESCRIPTORS) {
    const env = type.env?.(typed.settings);
    if (!env) continue;
    out.push({
      id: type.type,
      type: type.type,
      events: env.events,
      enabled: true,
      source: "env",
      description: env.description,
      sink: type.create(env.configuration, typed),
    });
  }
  for (const spec of deps.settings.destinations) {
    out.push({
      id: spec.id,
      type: spec.type,
      events: spec.events,
      enabled: spec.enabled,
      source: "config",
      description: spec.description,
      delivery: spec.delivery,
      sink: createSink(spec.type, spec.configuration, deps),
    });
  }
  return out;
}

/** What {@linkcode createDestinations} needs. */
export interface CreateDestinationsDeps extends DestinationIo {
  readonly store: Store;
  /** Replaces the destinations the configuration defines (tests). */
  readonly configured?: readonly Destination[];
  /** How long the list of API-defined destinations is trusted before it is re-read. */
  readonly refreshMs?: number;
}

/**
 * The relay's destinations: the configuration's, then the admin API's subscriptions from the
 * store, every sink built by the registry. The one place the server, the admin API and the CLI
 * get them from. Subscriptions are untrusted input: their sinks get the address-guarded fetch
 * (`RELAY_ALLOW_PRIVATE_DESTINATIONS` lists the private addresses they may reach).
 */
export function createDestinations(config: Config, deps: CreateDestinationsDeps): DestinationSet {
  const sinkDeps = sinkDepsFromConfig(config, deps);
  const apiDeps = {
    ...sinkDeps,
    fetch: fetchForSource("api", deps.fetch, config.allowPrivateDestinations),
  };
  return createDestinationSet({
    configured: deps.configured ?? destinationsFromConfig(sinkDeps),
    store: deps.store,
    build: (sub) => createSink(sub.type, sub.configuration, apiDeps),
    now: deps.now,
    refreshMs: deps.refreshMs,
  });
}
