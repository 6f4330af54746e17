/**
 * Destinations: a sink plus the rules for which messages it gets. Built from the environment, the
 * `RELAY_CONFIG` file and admin-API subscriptions through one factory, {@linkcode createSink};
 * routing a message is a pure function of the message and the list.
 *
 * @module
 */
import { type Envelope, type EventFilter, isSecretMessage, matchesFilter } from "./coder.ts";
import type { Config } from "./config.ts";
import { createCoderResolver, type IdentityResolver } from "./identity.ts";
import { SINK_CONFIG_SCHEMAS, SINK_TYPES, type SinkType } from "./sink_config.ts";
import type { Fetch } from "./sinks/http.ts";
import { createPlatformXSink } from "./sinks/platformx.ts";
import type { Sink } from "./sinks/sink.ts";
import { createSlackSink, createSlackWebhookSink } from "./sinks/slack.ts";
import { PRESETS } from "./sinks/template.ts";
import { teamsDestination } from "./sinks/teams.ts";
import { createWebhookSink } from "./sinks/webhook.ts";

/** One place messages go. `id` keys its delivery records: keep it stable across restarts. */
export interface Destination {
  readonly id: string;
  readonly type: string;
  readonly events: EventFilter;
  readonly enabled: boolean;
  /** Where it was defined: environment variables, the config file, or the admin API. */
  readonly source: "env" | "config" | "api";
  /** A human note, e.g. "dry run". */
  readonly description?: string;
  readonly sink: Sink;
}

/** What building destinations needs besides the configuration. */
export interface DestinationDeps {
  readonly fetch: Fetch;
  readonly now: () => number;
}

/** A destination names a type this build has no sink for (the API answers 400). */
export class UnsupportedTypeError extends Error {
  override name = "UnsupportedTypeError";
}

/** What {@linkcode createSink} needs besides the destination's own configuration. */
export interface SinkFactoryDeps extends DestinationDeps {
  readonly config: Config;
  readonly resolver?: IdentityResolver;
}

/**
 * The factory deps for one relay. Built once, so that every PlatformX destination (from the
 * environment, the config file or the admin API) shares one Coder user lookup and its cache.
 */
export function sinkDepsFromConfig(config: Config, deps: DestinationDeps): SinkFactoryDeps {
  const { coder, delivery } = config;
  const resolver = coder.url && coder.sessionToken
    ? createCoderResolver({
      url: coder.url,
      sessionToken: coder.sessionToken,
      fetch: deps.fetch,
      now: deps.now,
      timeoutMs: delivery.sendTimeoutMs,
    })
    : undefined;
  return { ...deps, config, resolver };
}

/**
 * The one place a destination type and its configuration ({@link SINK_CONFIG_SCHEMAS}) become a
 * sink, for the config file and the admin API alike.
 *
 * @throws {UnsupportedTypeError} for an unknown type.
 */
export function createSink(type: string, configuration: unknown, deps: SinkFactoryDeps): Sink {
  const io = {
    fetch: deps.fetch,
    now: deps.now,
    timeoutMs: deps.config.delivery.sendTimeoutMs,
  };
  switch (type as SinkType) {
    case "platformx": {
      const c = SINK_CONFIG_SCHEMAS.platformx.parse(configuration);
      return createPlatformXSink({
        ...io,
        apiKey: c.api_key,
        apiUrl: c.api_url ?? deps.config.platformx.apiUrl,
        resolver: deps.resolver,
      });
    }
    case "slack": {
      const c = SINK_CONFIG_SCHEMAS.slack.parse(configuration);
      return createSlackSink({
        ...io,
        token: c.token,
        apiUrl: c.api_url ?? deps.config.slack.apiUrl,
        channel: c.channel,
        username: c.username,
        icon: c.icon,
      });
    }
    case "slack-webhook":
      return createSlackWebhookSink({
        ...io,
        ...SINK_CONFIG_SCHEMAS["slack-webhook"].parse(configuration),
      });
    case "webhook": {
      const c = SINK_CONFIG_SCHEMAS.webhook.parse(configuration);
      return createWebhookSink({
        ...io,
        url: c.url,
        secret: c.secret,
        headers: c.headers,
        format: c.format,
        dedupeFanout: c.dedupe_fanout,
        template: c.preset ? PRESETS[c.preset] : c.template,
      });
    }
    case "teams":
      return teamsDestination.create(teamsDestination.schema.parse(configuration), io);
    default:
      throw new UnsupportedTypeError(
        `type "${type}" is not available (available: ${SINK_TYPES.join(", ")})`,
      );
  }
}

/**
 * The destinations the environment and the `RELAY_CONFIG` file define. PlatformX is always there:
 * dry-run without a key. Env ids are fixed (`platformx`, `slack`, `slack-webhook`, `webhook`, `teams`).
 */
export function destinationsFromConfig(factory: SinkFactoryDeps): Destination[] {
  const { config } = factory;
  const { platformx, slack, webhook, teams } = config;
  const env = (
    id: SinkType,
    events: EventFilter,
    description: string,
    configuration: Record<string, unknown>,
  ): Destination => ({
    id,
    type: id,
    events,
    enabled: true,
    source: "env",
    description,
    sink: createSink(id, configuration, factory),
  });
  const style = { username: slack.username, icon: slack.icon };
  const out: Destination[] = [{
    id: "platformx",
    type: "platformx",
    events: config.eventsTracked,
    enabled: true,
    source: "env",
    description: platformx.apiKey ? platformx.apiUrl : "dry run: GETDX_API_KEY is not set",
    // Without a key the sink runs dry; the config schema (which requires a key) does not apply.
    sink: createPlatformXSink({
      apiKey: platformx.apiKey,
      apiUrl: platformx.apiUrl,
      fetch: factory.fetch,
      timeoutMs: config.delivery.sendTimeoutMs,
      now: factory.now,
      resolver: factory.resolver,
    }),
  }];
  if (slack.botToken) {
    out.push(env(
      "slack",
      slack.eventsTracked,
      slack.channel ? `channel ${slack.channel}` : "DM to each recipient",
      { token: slack.botToken, channel: slack.channel, ...style },
    ));
  }
  if (slack.webhookUrl) {
    out.push(env("slack-webhook", slack.eventsTracked, "Slack incoming webhook", {
      url: slack.webhookUrl,
      ...style,
    }));
  }
  if (webhook.url) {
    // Userinfo and query may carry credentials: describe by origin and path only.
    const { origin, pathname } = new URL(webhook.url);
    out.push(env("webhook", webhook.eventsTracked, `${origin}${pathname}`, {
      url: webhook.url,
      secret: webhook.secret,
    }));
  }
  if (teams.webhookUrl) {
    // The flow URL is signed in its query: describe it by host only.
    out.push(
      env("teams", teams.eventsTracked, `Teams workflow at ${new URL(teams.webhookUrl).host}`, {
        url: teams.webhookUrl,
      }),
    );
  }
  for (const spec of config.destinations) {
    out.push({
      id: spec.id,
      type: spec.type,
      events: spec.events,
      enabled: spec.enabled,
      source: "config",
      description: spec.description,
      sink: createSink(spec.type, spec.configuration, factory),
    });
  }
  return out;
}

/**
 * The destinations a message goes to: enabled, subscribed to its name, and, for messages carrying a
 * secret, only those allowed to carry it (a DM to the recipient).
 */
export function route(destinations: readonly Destination[], envelope: Envelope): Destination[] {
  const secret = isSecretMessage(envelope.payload);
  return destinations.filter((d) =>
    d.enabled && matchesFilter(d.events, envelope.payload.notification_name) &&
    (!secret || d.sink.allowsSecrets)
  );
}
